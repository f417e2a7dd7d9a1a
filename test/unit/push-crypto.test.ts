import { createECDH } from 'node:crypto';
import { MAX_PUSH_PLAINTEXT, pushPayload, pushTopic } from '../../src/domain/push-texts';
import { loadPushTexts } from '../../src/push-texts-file';
import { decryptAes128gcm } from '../../demo/sandbox/push-service';
import path from 'node:path';

describe('web push payloads', () => {
  it('the test push service decrypts the RFC 8291 appendix A vector', () => {
    const receiver = createECDH('prime256v1');
    receiver.setPrivateKey(Buffer.from('q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94', 'base64url'));
    const body = Buffer.from(
      'DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN',
      'base64url',
    );
    expect(decryptAes128gcm(body, receiver, Buffer.from('BTBZMqHH6r4Tts7J_aSIgg', 'base64url'))).toBe('When I grow up, I want to be a watermelon');
  });

  const texts = loadPushTexts(path.join(__dirname, '..', '..', 'flows', 'push-texts.json'));
  const notice = { event: 'assigned' as const, recordType: 'case' as const, recordId: '2f0c8a3e-1b2c-4d5e-8f90-0a1b2c3d4e5f', caseIdDisplay: 'cp-1a2b', urgent: false };

  it('says what happened, which case, and links to it — in the device language', () => {
    expect(JSON.parse(pushPayload(notice, 'fra', texts, 'https://primero.example.org'))).toEqual({
      title: 'Dossier attribué',
      body: 'Le dossier cp-1a2b vous a été attribué ou référé.',
      url: 'https://primero.example.org/v2/cases/2f0c8a3e-1b2c-4d5e-8f90-0a1b2c3d4e5f',
      tag: notice.recordId,
      action: 'Ouvrir dans Primero',
    });
  });

  it('never lets a payload over the web push limit leave', () => {
    expect(() => pushPayload(notice, 'eng', texts, `https://p/${'x'.repeat(MAX_PUSH_PLAINTEXT)}`)).toThrow(/size limit/);
  });

  it('shows a display id only when it looks like one (a stored one included), else the start of the record id', () => {
    const shown = (caseIdDisplay: string) => JSON.parse(pushPayload({ ...notice, caseIdDisplay }, 'eng', texts, 'https://p')).body as string;
    expect(shown('cp-1a2b3c')).toContain('cp-1a2b3c');
    expect(shown('call Amina on +254700000000')).not.toContain('Amina');
    expect(shown('call Amina on +254700000000')).toContain(notice.recordId.slice(0, 8));
  });

  it('makes a topic of at most 32 URL-safe characters per record', () => {
    const topic = pushTopic(notice.recordId);
    expect(topic).toMatch(/^[A-Za-z0-9_-]{1,32}$/);
    expect(pushTopic(notice.recordId)).toBe(topic);
  });

  it('has page and alert texts for every language of the keyword tables', async () => {
    const keywords = (await import('../../flows/keywords.json')).default as { languages: Record<string, unknown> };
    for (const language of Object.keys(keywords.languages)) expect(texts.languages[language]).toBeDefined();
  });
});
