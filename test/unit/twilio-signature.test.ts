import { twilioSignature } from '../../src/channels/twilio/signature';

// Test vector from the reference (courier's receiveValid body, token 6789).
const body =
  'ToCountry=US&ToState=District+Of+Columbia&SmsMessageSid=SMe287d7109a5a925f182f0e07fe5b223b&NumMedia=0&ToCity=&FromZip=01022&SmsSid=SMe287d7109a5a925f182f0e07fe5b223b&FromState=MA&SmsStatus=received&FromCity=CHICOPEE&Body=Msg&FromCountry=US&To=%2B12028831111&ToZip=&NumSegments=1&MessageSid=SMe287d7109a5a925f182f0e07fe5b223b&AccountSid=acctid&From=%2B14133881111&ApiVersion=2010-04-01';
const url = 'https://gateway.example.com/c/t/8eb23e93-5ecb-45ba-b726-3b064e0c56ab/receive';

describe('Twilio request signature', () => {
  it('matches the upstream test vector', () => {
    expect(twilioSignature('6789', url, new URLSearchParams(body))).toBe('HUtCal/AvYVzwvi/SSu+FyjrKYs=');
  });
  it('changes with the URL, the token or any value', () => {
    expect(twilioSignature('6788', url, new URLSearchParams(body))).not.toBe('HUtCal/AvYVzwvi/SSu+FyjrKYs=');
    expect(twilioSignature('6789', `${url}/x`, new URLSearchParams(body))).not.toBe('HUtCal/AvYVzwvi/SSu+FyjrKYs=');
    expect(twilioSignature('6789', url, new URLSearchParams(body.replace('Body=Msg', 'Body=Msh')))).not.toBe('HUtCal/AvYVzwvi/SSu+FyjrKYs=');
  });
});
