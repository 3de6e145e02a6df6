// The webhooks resource through a recording fetch (each call's method, path, query and body,
// and which class WEBHOOK_DISABLED throws), and verifyWebhook on a known Standard Webhooks
// vector and on every way a request must be refused.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as sdk from '../index.js';
import { recording } from './support.js';

const sent = (requests) => requests.map(({ method, path, query, body }) => ({ method, path, query, body }));
const ENDPOINT = { id: 7, url: 'https://app.example.com/hooks', events: ['delivered'], enabled: true };

describe('webhooks', () => {
  test('every call: its method, path, query and body', async () => {
    const [client, requests] = recording([{ data: { webhook: ENDPOINT } }]);
    await client.webhooks.list();
    await client.webhooks.list(2);
    await client.webhooks.create({ url: ENDPOINT.url, events: ['delivered'] });
    await client.webhooks.get(7);
    await client.webhooks.update(7, { enabled: false });
    await client.webhooks.delete(7);
    await client.webhooks.rotateSecret(7);
    await client.webhooks.rotateSecret(7, 0);
    await client.webhooks.deliveries(7, { status: 'failed', page: 2 });
    await client.webhooks.retryDelivery(7, 991);
    await client.webhooks.test(7);
    assert.deepEqual(sent(requests), [
      { method: 'GET', path: '/api/v1/webhooks', query: {}, body: undefined },
      { method: 'GET', path: '/api/v1/webhooks', query: { page: '2' }, body: undefined },
      { method: 'POST', path: '/api/v1/webhooks', query: {}, body: { url: ENDPOINT.url, events: ['delivered'] } },
      { method: 'GET', path: '/api/v1/webhooks/7', query: {}, body: undefined },
      { method: 'PATCH', path: '/api/v1/webhooks/7', query: {}, body: { enabled: false } },
      { method: 'DELETE', path: '/api/v1/webhooks/7', query: {}, body: undefined },
      { method: 'POST', path: '/api/v1/webhooks/7/rotate-secret', query: {}, body: {} },
      { method: 'POST', path: '/api/v1/webhooks/7/rotate-secret', query: {}, body: { overlap_hours: 0 } },
      { method: 'GET', path: '/api/v1/webhooks/7/deliveries', query: { status: 'failed', page: '2' }, body: undefined },
      { method: 'POST', path: '/api/v1/webhooks/7/deliveries/991/retry', query: {}, body: undefined },
      { method: 'POST', path: '/api/v1/webhooks/7/test', query: {}, body: undefined },
    ]);
  });

  test('ids are positive integers, refused before any request', async () => {
    const [client, requests] = recording();
    for (const id of ['7', 0, -1, 1.5, null, '../mail']) {
      await assert.rejects(client.webhooks.get(id), TypeError);
    }
    await assert.rejects(client.webhooks.retryDelivery(7, '991'), TypeError);
    assert.equal(requests.length, 0);
  });

  test('WEBHOOK_DISABLED is a WebhookDisabledError', async () => {
    const [client] = recording([{ status: 409, error: { code: 'WEBHOOK_DISABLED' } }]);
    await assert.rejects(client.webhooks.test(7), (error) => {
      assert.ok(error instanceof sdk.WebhookDisabledError);
      assert.equal(error.status, 409);
      return true;
    });
  });

  test('WEBHOOK_EVENTS lists the event types the server takes', () => {
    assert.deepEqual([...sdk.WEBHOOK_EVENTS], [
      'sent', 'delivered', 'bounced', 'failed', 'complained', 'unsubscribed',
      'opened', 'clicked', 'suppressed', 'scheduled', 'cancelled',
    ]);
  });
});

// Made with the standardwebhooks Python package (the scheme's reference implementation).
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const BODY = '{"type":"email.delivered","test":true}';
const NOW = 1733306400;
const SIGNED = {
  'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  'webhook-timestamp': String(NOW),
  'webhook-signature': 'v1,5h3bA8xPOby/eWQMFLkf3/Oq1qkCluE+gH+H9B4Ig70=',
};

async function refused(promise, words) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof sdk.WebhookVerificationError, `${error.name}: ${error.message}`);
    assert.match(error.message, words);
    return true;
  });
}

describe('verifyWebhook', () => {
  test('the known vector: the event, from a string, bytes, a Headers or pairs, names in any case', async () => {
    const expected = { type: 'email.delivered', test: true };
    assert.deepEqual(await sdk.verifyWebhook(BODY, SIGNED, SECRET, { now: NOW }), expected);
    const bytes = new TextEncoder().encode(BODY);
    assert.deepEqual(await sdk.verifyWebhook(bytes, new Headers(SIGNED), SECRET, { now: NOW }), expected);
    const shouted = Object.entries(SIGNED).map(([name, value]) => [name.toUpperCase(), value]);
    assert.deepEqual(await sdk.verifyWebhook(bytes.buffer, shouted, SECRET, { now: NOW + 299 }), expected);
  });

  test('a second signature that matches is enough (a rotation)', async () => {
    const headers = { ...SIGNED, 'webhook-signature': `v1,${'A'.repeat(43)}= ${SIGNED['webhook-signature']}` };
    assert.equal((await sdk.verifyWebhook(BODY, headers, SECRET, { now: NOW })).type, 'email.delivered');
  });

  test('refused: a changed body, another secret, an old or future timestamp, a missing header', async () => {
    await refused(sdk.verifyWebhook(BODY.replace('true', 'false'), SIGNED, SECRET, { now: NOW }), /No webhook signature/);
    const other = 'whsec_' + Buffer.from('another endpoint secret!').toString('base64');
    await refused(sdk.verifyWebhook(BODY, SIGNED, other, { now: NOW }), /No webhook signature/);
    await refused(sdk.verifyWebhook(BODY, SIGNED, SECRET, { now: NOW + 301 }), /too old/);
    await refused(sdk.verifyWebhook(BODY, SIGNED, SECRET, { now: NOW - 301 }), /future/);
    for (const name of Object.keys(SIGNED)) {
      const { [name]: _, ...missing } = SIGNED;
      await refused(sdk.verifyWebhook(BODY, missing, SECRET, { now: NOW }), /missing/);
    }
    await refused(sdk.verifyWebhook(BODY, { ...SIGNED, 'webhook-timestamp': '1e9' }, SECRET, { now: NOW }), /Unix time/);
    await refused(sdk.verifyWebhook(BODY, { ...SIGNED, 'webhook-signature': 'v2,abc' }, SECRET, { now: NOW }), /No webhook signature/);
  });

  test('a secret that is not a whsec_ one is the receiver\'s own mistake', async () => {
    await assert.rejects(sdk.verifyWebhook(BODY, SIGNED, 'whsec_', { now: NOW }), sdk.MailPassConfigurationError);
    await assert.rejects(sdk.verifyWebhook(BODY, SIGNED, 'not base64!', { now: NOW }), sdk.MailPassConfigurationError);
  });
});
