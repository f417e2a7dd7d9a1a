import { forgetTarget } from '../../src/admin/forget';

describe('the identifier an operator types into forget', () => {
  it('is read in the form intake stores it', () => {
    expect(forgetTarget(' tel:+254 712-000 111 ')).toBe('tel:+254712000111');
    expect(forgetTarget('tel:+254 (712) 000.111')).toBe('tel:+254712000111');
    expect(forgetTarget('tel:40404')).toBe('tel:40404');
    expect(forgetTarget('whatsapp:+254 712 000 111')).toBe('whatsapp:254712000111');
    expect(forgetTarget('whatsapp:254712000111')).toBe('whatsapp:254712000111');
    expect(forgetTarget('whatsapp:user.forget-me')).toBe('whatsapp:user.forget-me');
    expect(forgetTarget('telegram:123456789')).toBe('telegram:123456789');
    expect(forgetTarget('tel:+254712000111#Amina')).toBe('tel:+254712000111#Amina');
    expect(forgetTarget('8E6A4C3B-2D1F-4E5A-9B8C-7D6E5F4A3B2C')).toBe('8e6a4c3b-2d1f-4e5a-9b8c-7d6e5f4a3b2c');
  });

  it('is refused when it is neither a URN nor a contact UUID (a bare number does not say which identity)', () => {
    expect(forgetTarget('+254 712 000 111')).toBeNull();
    expect(forgetTarget('0712 000 111')).toBeNull();
    expect(forgetTarget('Amina')).toBeNull();
    expect(forgetTarget('')).toBeNull();
  });
});
