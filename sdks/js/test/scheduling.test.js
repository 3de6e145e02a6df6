// Scheduled sending through a recording fetch: what send, sendBatch, cancel and reschedule
// put on the wire, how dates become ISO 8601, and which class MESSAGE_NOT_SCHEDULED throws.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as sdk from '../index.js';
import { recording } from './support.js';

const ID = '<1717.abc+x@mail.example.com>';
const ENCODED = '1717.abc%2Bx%40mail.example.com';
const NOT_SCHEDULED = {
  status: 409,
  error: { code: 'MESSAGE_NOT_SCHEDULED', message: 'The message is sent, not scheduled.', details: { message_id: ID, status: 'sent' } },
};

describe('mail.cancel', () => {
  test('POSTs to /mail/{id}/cancel without a body, with or without brackets', async () => {
    const [client, requests] = recording([{ data: { message_id: ID, status: 'cancelled' } }]);
    const answer = await client.mail.cancel(ID);
    await client.mail.cancel(ID.slice(1, -1));
    await client.mail.cancel(` ${ID} `);
    assert.deepEqual(answer, { success: true, data: { message_id: ID, status: 'cancelled' } });
    for (const request of requests) {
      assert.equal(request.method, 'POST');
      assert.equal(request.url, `https://mail.example.com/api/v1/mail/${ENCODED}/cancel`);
      assert.equal(request.body, undefined);
      assert.equal(request.headers['Content-Type'], undefined);
      assert.equal(request.headers['Idempotency-Key'], undefined);
    }
    assert.equal(requests.length, 3);
  });

  test('a slash or a question mark in the id stays in its segment', async () => {
    const [client, requests] = recording();
    await client.mail.cancel('<a/b?c#d@x>');
    assert.equal(requests[0].path, '/api/v1/mail/a%2Fb%3Fc%23d%40x/cancel');
  });

  test('MESSAGE_NOT_SCHEDULED is a MessageNotScheduledError naming the message and its status; not retried', async () => {
    const [client, requests] = recording([NOT_SCHEDULED]);
    await assert.rejects(client.mail.cancel(ID), (error) => {
      assert.ok(error instanceof sdk.MessageNotScheduledError);
      assert.ok(error instanceof sdk.MailPassApiError);
      assert.equal(error.code, 'MESSAGE_NOT_SCHEDULED');
      assert.equal(error.status, 409);
      assert.equal(error.messageId, ID);
      assert.equal(error.details.status, 'sent');
      return true;
    });
    assert.equal(requests.length, 1);
  });

  test('a server error is retried: cancelling twice answers the same', async () => {
    const [client, requests] = recording([{ status: 503, error: { code: 'UNAVAILABLE' } }, { data: { message_id: ID, status: 'cancelled' } }]);
    assert.equal((await client.mail.cancel(ID)).data.status, 'cancelled');
    assert.deepEqual(requests.map((r) => r.path), [`/api/v1/mail/${ENCODED}/cancel`, `/api/v1/mail/${ENCODED}/cancel`]);
  });

  test('an empty id, or one that a URL would resolve, is refused before any request', async () => {
    const [client, requests] = recording();
    for (const id of ['', '  ', '<>', undefined, null, '.', '..', '<..>']) {
      await assert.rejects(client.mail.cancel(id), TypeError, String(id));
    }
    assert.equal(requests.length, 0);
  });
});

describe('mail.reschedule', () => {
  test('PATCHes /mail/{id} with scheduled_at; a string goes as given', async () => {
    const answer = { message_id: ID, status: 'scheduled', scheduled_at: '2026-12-05T08:00:00Z' };
    const [client, requests] = recording([{ data: answer }]);
    assert.deepEqual((await client.mail.reschedule(ID, '2026-12-05T09:00:00+01:00')).data, answer);
    assert.deepEqual(requests, [
      {
        method: 'PATCH',
        path: `/api/v1/mail/${ENCODED}`,
        query: {},
        url: `https://mail.example.com/api/v1/mail/${ENCODED}`,
        headers: requests[0].headers,
        body: { scheduled_at: '2026-12-05T09:00:00+01:00' },
      },
    ]);
    assert.equal(requests[0].headers['Content-Type'], 'application/json');
  });

  test('a Date goes as ISO 8601 in UTC, milliseconds only when it has some', async () => {
    const [client, requests] = recording();
    await client.mail.reschedule(ID, new Date('2026-12-05T09:00:00+01:00'));
    await client.mail.reschedule(ID, new Date(Date.UTC(2026, 11, 5, 8, 0, 0, 250)));
    assert.deepEqual(requests.map((r) => r.body.scheduled_at), ['2026-12-05T08:00:00Z', '2026-12-05T08:00:00.250Z']);
  });

  test('no date, an invalid Date or a number is refused before any request', async () => {
    const [client, requests] = recording();
    for (const when of [undefined, null, new Date('not a date'), 1764921600000]) {
      await assert.rejects(client.mail.reschedule(ID, when), (error) => {
        assert.ok(error instanceof TypeError);
        assert.match(error.message, /scheduledAt/);
        return true;
      });
    }
    assert.equal(requests.length, 0);
  });

  test('MESSAGE_NOT_SCHEDULED is a MessageNotScheduledError', async () => {
    const [client] = recording([{ ...NOT_SCHEDULED, error: { ...NOT_SCHEDULED.error, details: { message_id: ID, status: 'cancelled' } } }]);
    await assert.rejects(
      client.mail.reschedule(ID, '2026-12-05T08:00:00Z'),
      (error) => error instanceof sdk.MessageNotScheduledError && error.details.status === 'cancelled' && error.status === 409
    );
  });
});

describe('send and sendBatch with scheduled_at and template', () => {
  const template = { alias: 'order-shipped', variables: { name: 'Ada', order: { id: 7 } }, version: 2 };

  test('a Date is converted in a copy; the caller keeps its Date', async () => {
    const [client, requests] = recording([{ data: { message_id: ID, status: 'scheduled', scheduled_at: '2026-12-05T08:00:00Z' } }]);
    const when = new Date('2026-12-05T08:00:00Z');
    const message = { to: 'a@example.com', template, scheduled_at: when };
    const answer = await client.mail.send(message);
    assert.equal(answer.data.status, 'scheduled');
    assert.deepEqual(requests[0].body, { to: 'a@example.com', template, scheduled_at: '2026-12-05T08:00:00Z' });
    assert.equal(requests[0].path, '/api/v1/mail/send');
    assert.ok(requests[0].headers['Idempotency-Key']);
    assert.equal(message.scheduled_at, when);
  });

  test('a string scheduled_at and a template go as given', async () => {
    const [client, requests] = recording();
    const message = { to: 'a@example.com', template: { id: 12 }, scheduled_at: '2026-12-05T09:00:00+01:00' };
    await client.mail.send(message);
    await client.mail.send({ to: 'a@example.com', subject: 's', text: 't' });
    assert.deepEqual(requests.map((r) => r.body), [message, { to: 'a@example.com', subject: 's', text: 't' }]);
  });

  test('batch items: each Date is converted, the rest is untouched', async () => {
    const [client, requests] = recording();
    const messages = [
      { to: 'a@example.com', template, scheduled_at: new Date('2026-12-05T08:00:00.5Z') },
      { to: 'b@example.com', subject: 's', text: 't' },
      { to: 'c@example.com', subject: 's', html: '<p>h</p>', scheduled_at: '2026-12-05T09:00:00+01:00' },
    ];
    const params = { messages, from_email: 'sender@example.com' };
    await client.mail.sendBatch(params);
    assert.equal(requests[0].path, '/api/v1/mail/send-batch');
    assert.deepEqual(requests[0].body, {
      messages: [{ ...messages[0], scheduled_at: '2026-12-05T08:00:00.500Z' }, messages[1], messages[2]],
      from_email: 'sender@example.com',
    });
    assert.ok(params.messages[0].scheduled_at instanceof Date);
  });

  test('an invalid Date rejects before any request', async () => {
    const [client, requests] = recording();
    const bad = new Date('2026-13-45');
    await assert.rejects(client.mail.send({ to: 'a@example.com', subject: 's', text: 't', scheduled_at: bad }), /scheduled_at is an invalid Date/);
    await assert.rejects(client.mail.sendBatch({ messages: [{ to: 'a@example.com', subject: 's', text: 't', scheduled_at: bad }] }), TypeError);
    assert.equal(requests.length, 0);
  });
});
