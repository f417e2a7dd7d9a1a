import { thrownAt, thrownClass } from '../../src/process-end';

/** What a crash line may say of what was thrown: its class and where, never a value it holds. */
describe('the crash line', () => {
  const phone = '+250788123987';

  it('names the class of an error, and only a placeholder for a thrown value that is not an object', () => {
    expect(thrownClass(new TypeError(phone))).toBe('TypeError');
    expect(thrownClass({ phone })).toBe('Object');
    expect(thrownClass(Object.create(null))).toBe('(an object of no named class)');
    expect(thrownClass(phone)).toBe('(a thrown string)');
    expect(thrownClass(null)).toBe('(a thrown null)');
    expect(thrownClass(new Proxy({}, { get: () => { throw new Error(phone); } }))).toBe('(an object that refused to be read)');
  });

  it('gives the frames of the stack without its message, even a message that looks like frames', () => {
    const plain = new Error(`failed for ${phone}`);
    expect(thrownAt(plain).length).toBeGreaterThan(0);
    expect(thrownAt(plain).every((frame) => frame.startsWith('at ') && !frame.includes(phone))).toBe(true);
    const sly = new Error(`failed\n    at ${phone} (somewhere.js:1:1)`);
    expect(thrownAt(sly).join('\n')).not.toContain(phone);
    const changed = new Error('first');
    void changed.stack;
    changed.message = phone;
    expect(thrownAt(changed)).toEqual([]);
  });
});
