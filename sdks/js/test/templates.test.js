// The templates resource through a recording fetch: each call's method, path, query and body,
// how an id or alias becomes a path segment, and which class TEMPLATE_IN_USE throws.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as sdk from '../index.js';
import { recording } from './support.js';

const TEMPLATE = {
  id: 12,
  alias: 'order-shipped',
  name: 'Order shipped',
  version: 1,
  subject: 'Order {{order_id}} shipped',
  html: '<p>Hi {{name}}</p>',
  text: 'Hi {{name}}',
  defaults: { name: 'there' },
  variables: ['name', 'order_id'],
  created_at: '2026-12-01T10:00:00Z',
  updated_at: '2026-12-01T10:00:00Z',
};

const sent = (requests) => requests.map(({ method, path, query, body }) => ({ method, path, query, body }));

describe('templates', () => {
  test('list: GET /templates, with the page as a number or in params', async () => {
    const page = { total: 1, page: 1, pages: 1, templates: [TEMPLATE] };
    const [client, requests] = recording([{ data: page }]);
    assert.deepEqual((await client.templates.list()).data, page);
    await client.templates.list(2);
    await client.templates.list({ page: 3 });
    assert.deepEqual(sent(requests), [
      { method: 'GET', path: '/api/v1/templates', query: {}, body: undefined },
      { method: 'GET', path: '/api/v1/templates', query: { page: '2' }, body: undefined },
      { method: 'GET', path: '/api/v1/templates', query: { page: '3' }, body: undefined },
    ]);
  });

  test('create: POST /templates with the params as given; the 201 answer is returned', async () => {
    const [client, requests] = recording([{ status: 201, data: { template: TEMPLATE } }]);
    const params = { name: 'Order shipped', alias: 'order-shipped', subject: 'Order {{order_id}} shipped', html: '<p>Hi {{name}}</p>', defaults: { name: 'there' } };
    assert.deepEqual(await client.templates.create(params), { success: true, data: { template: TEMPLATE } });
    assert.deepEqual(sent(requests), [{ method: 'POST', path: '/api/v1/templates', query: {}, body: params }]);
    assert.equal(requests[0].headers['Idempotency-Key'], undefined);
  });

  test('get: by alias or id, the latest version or the one given', async () => {
    const [client, requests] = recording([{ data: { template: TEMPLATE, versions: [{ version: 1, created_at: TEMPLATE.created_at }] } }]);
    assert.deepEqual((await client.templates.get('order-shipped')).data.versions, [{ version: 1, created_at: TEMPLATE.created_at }]);
    await client.templates.get(12, 3);
    await client.templates.get('order-shipped', null, { signal: new AbortController().signal });
    assert.deepEqual(sent(requests), [
      { method: 'GET', path: '/api/v1/templates/order-shipped', query: {}, body: undefined },
      { method: 'GET', path: '/api/v1/templates/12', query: { version: '3' }, body: undefined },
      { method: 'GET', path: '/api/v1/templates/order-shipped', query: {}, body: undefined },
    ]);
  });

  test('update: PATCH with only the fields given', async () => {
    const [client, requests] = recording([{ data: { template: { ...TEMPLATE, version: 2 }, versions: [] } }]);
    assert.equal((await client.templates.update(12, { text: 'Hello {{name}}' })).data.template.version, 2);
    assert.deepEqual(sent(requests), [{ method: 'PATCH', path: '/api/v1/templates/12', query: {}, body: { text: 'Hello {{name}}' } }]);
  });

  test('delete: DELETE without a body', async () => {
    const [client, requests] = recording([{ data: { id: 12, alias: 'order-shipped' } }]);
    assert.deepEqual((await client.templates.delete('order-shipped')).data, { id: 12, alias: 'order-shipped' });
    assert.deepEqual(sent(requests), [{ method: 'DELETE', path: '/api/v1/templates/order-shipped', query: {}, body: undefined }]);
    assert.equal(requests[0].headers['Content-Type'], undefined);
  });

  test('render: POST .../render with the variables and the version only when given', async () => {
    const rendered = { subject: 'Order A-1 shipped', html: '<p>Hi Ada</p>', text: 'Hi Ada', version: 1 };
    const [client, requests] = recording([{ data: rendered }]);
    assert.deepEqual((await client.templates.render('order-shipped', { order_id: 'A-1', name: 'Ada' })).data, rendered);
    await client.templates.render(12);
    await client.templates.render(12, null, 2);
    await client.templates.render('order-shipped', { lines: [{ sku: 'x' }] }, 1, {});
    assert.deepEqual(sent(requests), [
      { method: 'POST', path: '/api/v1/templates/order-shipped/render', query: {}, body: { variables: { order_id: 'A-1', name: 'Ada' } } },
      { method: 'POST', path: '/api/v1/templates/12/render', query: {}, body: {} },
      { method: 'POST', path: '/api/v1/templates/12/render', query: {}, body: { version: 2 } },
      { method: 'POST', path: '/api/v1/templates/order-shipped/render', query: {}, body: { variables: { lines: [{ sku: 'x' }] }, version: 1 } },
    ]);
  });

  test('an alias is URL-encoded into one segment', async () => {
    const [client, requests] = recording();
    await client.templates.get('a b/c?d#e');
    await client.templates.render('räksmörgås.v2');
    assert.deepEqual(requests.map((r) => r.url), [
      'https://mail.example.com/api/v1/templates/a%20b%2Fc%3Fd%23e',
      'https://mail.example.com/api/v1/templates/r%C3%A4ksm%C3%B6rg%C3%A5s.v2/render',
    ]);
  });

  test('no id or alias, a fraction, an object or dots alone are refused before any request', async () => {
    const [client, requests] = recording();
    for (const key of ['', '   ', 1.5, NaN, null, undefined, {}, '.', '..']) {
      await assert.rejects(client.templates.get(key), TypeError, String(key));
      await assert.rejects(client.templates.delete(key), TypeError, String(key));
    }
    assert.equal(requests.length, 0);
  });

  test('TEMPLATE_IN_USE is a TemplateInUseError with the count of scheduled messages', async () => {
    const [client, requests] = recording([{ status: 409, error: { code: 'TEMPLATE_IN_USE', details: { scheduled: 2 } } }]);
    await assert.rejects(client.templates.delete('order-shipped'), (error) => {
      assert.ok(error instanceof sdk.TemplateInUseError);
      assert.equal(error.code, 'TEMPLATE_IN_USE');
      assert.equal(error.status, 409);
      assert.equal(error.details.scheduled, 2);
      return true;
    });
    assert.equal(requests.length, 1);
  });

  test('errors of the other calls map by code as everywhere', async () => {
    const cases = [
      [404, 'NOT_FOUND', sdk.NotFoundError, (c) => c.templates.get('nothing-here')],
      [403, 'FORBIDDEN', sdk.ForbiddenError, (c) => c.templates.create({ name: 'n', alias: 'a', subject: 's', text: 't' })],
      [400, 'VALIDATION_ERROR', sdk.ValidationError, (c) => c.templates.render('a', {})],
    ];
    for (const [status, code, cls, call] of cases) {
      const [client] = recording([{ status, error: { code, details: { variables: ['Missing: name'] } } }]);
      await assert.rejects(call(client), (error) => error instanceof cls && error.status === status, code);
    }
  });
});
