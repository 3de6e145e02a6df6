// The domains resource through a recording fetch: each call's method, path, query and body,
// how an id or a name becomes a path segment, the 204 of delete, and which class
// DOMAIN_NOT_VERIFIED throws (on a send, and as a failed batch item).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as sdk from '../index.js';
import { recording } from './support.js';

const sent = (requests) => requests.map(({ method, path, query, body }) => ({ method, path, query, body }));

const DOMAIN = {
  id: 7,
  name: 'example.com',
  status: 'pending',
  ed25519: false,
  signing: false,
  created_at: '2026-12-04T10:00:00Z',
  checked_at: null,
  next_check_at: '2026-12-04T11:00:00Z',
  verified_at: null,
  records: [
    {
      purpose: 'dkim', type: 'TXT', name: 'mp20261204._domainkey.example.com', value: 'v=DKIM1; k=rsa; p=MIIB',
      selector: 'mp20261204', algorithm: 'rsa-sha256', key_state: 'active', status: 'pending', found: null, detail: '',
    },
    {
      purpose: 'dmarc', type: 'TXT', name: '_dmarc.example.com', value: 'v=DMARC1; p=none',
      status: 'pending', found: null, detail: '',
    },
  ],
};

describe('domains', () => {
  test('list: GET /domains, with the page as a number or in params', async () => {
    const page = { total: 1, page: 1, pages: 1, domains: [DOMAIN] };
    const [client, requests] = recording([{ data: page }]);
    assert.deepEqual(await client.domains.list(), { success: true, data: page });
    await client.domains.list(2);
    await client.domains.list({ page: 3 });
    assert.deepEqual(sent(requests), [
      { method: 'GET', path: '/api/v1/domains', query: {}, body: undefined },
      { method: 'GET', path: '/api/v1/domains', query: { page: '2' }, body: undefined },
      { method: 'GET', path: '/api/v1/domains', query: { page: '3' }, body: undefined },
    ]);
  });

  test('create: POST /domains with a name alone or with params; the 201 envelope is returned', async () => {
    const [client, requests] = recording([{ status: 201, data: { domain: DOMAIN } }]);
    assert.deepEqual(await client.domains.create('example.com'), { success: true, data: { domain: DOMAIN } });
    await client.domains.create({ name: 'example.com', ed25519: true });
    await client.domains.create({ name: 'example.com', ed25519: false });
    assert.deepEqual(sent(requests), [
      { method: 'POST', path: '/api/v1/domains', query: {}, body: { name: 'example.com' } },
      { method: 'POST', path: '/api/v1/domains', query: {}, body: { name: 'example.com', ed25519: true } },
      { method: 'POST', path: '/api/v1/domains', query: {}, body: { name: 'example.com', ed25519: false } },
    ]);
    assert.equal(requests[0].headers['Content-Type'], 'application/json');
    assert.equal(requests[0].headers['Idempotency-Key'], undefined);
  });

  test('get, verify: by id or by name', async () => {
    const [client, requests] = recording([{ data: { domain: DOMAIN } }]);
    assert.deepEqual((await client.domains.get(7)).data.domain, DOMAIN);
    await client.domains.get('example.com', { signal: new AbortController().signal });
    await client.domains.verify(7);
    await client.domains.verify('example.com');
    assert.deepEqual(sent(requests), [
      { method: 'GET', path: '/api/v1/domains/7', query: {}, body: undefined },
      { method: 'GET', path: '/api/v1/domains/example.com', query: {}, body: undefined },
      { method: 'POST', path: '/api/v1/domains/7/verify', query: {}, body: undefined },
      { method: 'POST', path: '/api/v1/domains/example.com/verify', query: {}, body: undefined },
    ]);
  });

  test('rotate: the ed25519 choice only when given', async () => {
    const [client, requests] = recording([{ data: { domain: DOMAIN } }]);
    await client.domains.rotate(7);
    await client.domains.rotate('example.com', null);
    await client.domains.rotate('example.com', true);
    await client.domains.rotate(7, false, {});
    assert.deepEqual(sent(requests), [
      { method: 'POST', path: '/api/v1/domains/7/rotate', query: {}, body: {} },
      { method: 'POST', path: '/api/v1/domains/example.com/rotate', query: {}, body: {} },
      { method: 'POST', path: '/api/v1/domains/example.com/rotate', query: {}, body: { ed25519: true } },
      { method: 'POST', path: '/api/v1/domains/7/rotate', query: {}, body: { ed25519: false } },
    ]);
  });

  test('delete: DELETE without a body; the 204 without one resolves to an envelope of no data', async () => {
    const [client, requests] = recording([{ status: 204 }]);
    assert.deepEqual(await client.domains.delete('example.com'), { success: true, data: null });
    assert.deepEqual(await client.domains.delete(7), { success: true, data: null });
    assert.deepEqual(sent(requests), [
      { method: 'DELETE', path: '/api/v1/domains/example.com', query: {}, body: undefined },
      { method: 'DELETE', path: '/api/v1/domains/7', query: {}, body: undefined },
    ]);
    assert.equal(requests[0].headers['Content-Type'], undefined);
  });

  test('a 200 without a body is still not MailPass answering', async () => {
    const fetch = async () => new Response('', { status: 200 });
    const client = new sdk.MailPass('mp_live_x', { baseUrl: 'https://mail.example.com', fetch });
    await assert.rejects(client.domains.delete(7), (error) => error instanceof sdk.MailPassApiError && error.code === 'UNEXPECTED_RESPONSE');
  });

  test('a name is URL-encoded into one segment', async () => {
    const [client, requests] = recording([{ data: { domain: DOMAIN } }]);
    await client.domains.get('bücher.example');
    await client.domains.verify('a b/c?d#e');
    await client.domains.rotate('Example.COM', true);
    await client.domains.get('%2e%2e');
    assert.deepEqual(requests.map((r) => r.url), [
      'https://mail.example.com/api/v1/domains/b%C3%BCcher.example',
      'https://mail.example.com/api/v1/domains/a%20b%2Fc%3Fd%23e/verify',
      'https://mail.example.com/api/v1/domains/Example.COM/rotate',
      'https://mail.example.com/api/v1/domains/%252e%252e',
    ]);
  });

  test('no id or name, a fraction, an object or dots alone are refused before any request', async () => {
    const [client, requests] = recording();
    for (const key of ['', '   ', 1.5, NaN, null, undefined, {}, ['example.com'], '.', '..']) {
      for (const call of [client.domains.get, client.domains.delete, client.domains.verify, client.domains.rotate]) {
        await assert.rejects(call(key), TypeError, String(key));
      }
    }
    assert.equal(requests.length, 0);
  });

  test('DOMAIN_NOT_VERIFIED on a send is a DomainNotVerifiedError naming the domain, not retried', async () => {
    const details = { domain: 'unverified.example' };
    const [client, requests] = recording([{ status: 422, error: { code: 'DOMAIN_NOT_VERIFIED', details } }]);
    await assert.rejects(client.mail.send({ to: 'a@example.com', from_email: 'hello@unverified.example', subject: 's', text: 't' }), (error) => {
      assert.ok(error instanceof sdk.DomainNotVerifiedError);
      assert.ok(error instanceof sdk.MailPassApiError);
      assert.equal(error.name, 'DomainNotVerifiedError');
      assert.equal(error.code, 'DOMAIN_NOT_VERIFIED');
      assert.equal(error.status, 422);
      assert.deepEqual(error.details, details);
      assert.equal(error.messageId, null);
      return true;
    });
    assert.equal(requests.length, 1);
  });

  test('in a batch, DOMAIN_NOT_VERIFIED is a failed item of the answer, not a throw', async () => {
    const error = { code: 'DOMAIN_NOT_VERIFIED', message: 'not verified', details: { domain: 'unverified.example' } };
    const answer = {
      total: 2, queued: 1, failed: 1,
      messages: [
        { to: 'a@example.com', status: 'queued', queue_id: 1, message_id: '<1@mailpass>' },
        { to: 'b@example.com', status: 'failed', error },
      ],
    };
    const [client] = recording([{ data: answer }]);
    const result = await client.mail.sendBatch({ messages: [{ to: 'a@example.com', subject: 's', text: 't' }, { to: 'b@example.com', subject: 's', text: 't' }] });
    assert.deepEqual(result.data.messages[1].error, error);
  });

  test('errors of the other calls map by code as everywhere', async () => {
    const cases = [
      [404, 'NOT_FOUND', sdk.NotFoundError, (c) => c.domains.get('nothing.example')],
      [403, 'FORBIDDEN', sdk.ForbiddenError, (c) => c.domains.list()],
      [400, 'VALIDATION_ERROR', sdk.ValidationError, (c) => c.domains.create('localhost')],
    ];
    for (const [status, code, cls, call] of cases) {
      const [client] = recording([{ status, error: { code, details: { name: ['Not a domain name.'] } } }]);
      await assert.rejects(call(client), (error) => error instanceof cls && error.status === status, code);
    }
  });
});
