// Against a live MailPass: every method, every error code the server can be made to give.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import * as sdk from '../index.js';
import { address, live, skipLive } from './support.js';

// A 1x1 PNG, for the inline image.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

const one = (name) => ({ to: address(name), subject: 's', text: 't' });

async function expectError(promise, cls, code, status) {
  let caught;
  await assert.rejects(promise, (error) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof cls, `${caught?.name}: ${caught?.message}`);
  assert.equal(caught.code, code);
  assert.equal(caught.status, status);
  assert.ok(caught.message);
  return caught;
}

describe('mail', { skip: skipLive }, () => {
  test('send with every field, status with and without brackets', async () => {
    const client = live();
    const result = await client.mail.send({
      to: address('to'),
      subject: 'Every field',
      html: '<p>Hello</p>',
      text: 'Hello',
      from_email: 'sender@example.com',
      from_name: 'Sender',
      reply_to: 'reply@example.com',
      cc: [address('cc')],
      bcc: [address('bcc')],
      tags: ['welcome', 'sdk'],
      metadata: { user_id: 42, plan: 'pro', beta: true, note: null },
      track_opens: false,
      track_clicks: false,
    });
    assert.equal(result.success, true);
    assert.equal(result.data.status, 'sent');
    const id = result.data.message_id;
    for (const form of [id, id.replace(/^<|>$/g, '')]) {
      const status = await client.mail.status(form);
      assert.equal(status.data.message.message_id, id);
      assert.equal(status.data.message.status, 'sent');
    }
  });

  test('an invoice, an inline logo, a header and unsubscribe; the status lists the files', async () => {
    const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n% invoice 2024-017\n'), randomBytes(2048), Buffer.from('\n%%EOF\n')]);
    const dir = await mkdtemp(join(tmpdir(), 'mailpass-js-'));
    let invoice;
    try {
      await writeFile(join(dir, 'invoice-2024-017.pdf'), pdf);
      invoice = await sdk.attachmentFromPath(join(dir, 'invoice-2024-017.pdf'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const client = live();
    const result = await client.mail.send({
      to: address('attachments'),
      subject: 'Your invoice 2024-017',
      html: '<p><img src="cid:logo" alt="Logo"></p><p>Your invoice is attached.</p>',
      attachments: [invoice, sdk.attachmentFromBytes('logo.png', PNG, { contentType: 'image/png', contentId: 'logo' })],
      headers: { 'X-Invoice-Id': '2024-017' },
      unsubscribe: true,
    });
    assert.equal(result.data.status, 'sent');

    const status = await client.mail.status(result.data.message_id);
    assert.deepEqual(status.data.message.attachments, [
      // The PDF's type is the server's guess from its name.
      { filename: 'invoice-2024-017.pdf', content_type: 'application/pdf', size: pdf.length, content_id: null },
      { filename: 'logo.png', content_type: 'image/png', size: PNG.length, content_id: 'logo' },
    ]);
    const plain = await client.mail.send(one('plain'));
    assert.deepEqual((await client.mail.status(plain.data.message_id)).data.message.attachments, []);
  });

  test('a batch with one bad message queues the others', async () => {
    const result = await live().mail.sendBatch({
      messages: [one('a'), { to: 'not an address', subject: 'B', text: 'b' }, one('c')],
      from_email: 'sender@example.com',
    });
    assert.deepEqual([result.data.total, result.data.queued, result.data.failed], [3, 2, 1]);
    assert.deepEqual(result.data.messages.map((m) => m.status), ['queued', 'failed', 'queued']);
  });

  test('the same idempotency key sends once', async () => {
    const client = live();
    const idempotencyKey = globalThis.crypto.randomUUID();
    const body = one('once');
    const first = await client.mail.send(body, { idempotencyKey });
    const second = await client.mail.send(body, { idempotencyKey });
    assert.equal(first.data.message_id, second.data.message_id);
  });
});

describe('suppressions', { skip: skipLive }, () => {
  test('round trip', async () => {
    const client = live();
    const email = address('suppressed');
    assert.equal((await client.suppressions.add({ email, description: 'asked to stop' })).success, true);
    assert.ok(JSON.stringify((await client.suppressions.list({ email })).data).includes(email));
    const error = await expectError(client.mail.send({ to: email, subject: 's', text: 't' }), sdk.RecipientSuppressedError, 'RECIPIENT_SUPPRESSED', 422);
    assert.ok(error.messageId);
    await client.suppressions.remove(email);
    assert.ok(!JSON.stringify((await client.suppressions.list({ email })).data).includes(email));
    await expectError(client.suppressions.remove(email), sdk.NotFoundError, 'NOT_FOUND', 404);
  });
});

describe('errors from the live server', { skip: skipLive }, () => {
  test('VALIDATION_ERROR', async () => {
    const error = await expectError(live().mail.send({ to: 'nobody', subject: 's', text: 't' }), sdk.ValidationError, 'VALIDATION_ERROR', 400);
    assert.ok('to' in error.details);
  });
  test('VALIDATION_ERROR for an .exe attachment', async () => {
    const body = { ...one('exe'), attachments: [sdk.attachmentFromBytes('setup.exe', Buffer.from('MZ\x90\x00', 'latin1'))] };
    const error = await expectError(live().mail.send(body), sdk.ValidationError, 'VALIDATION_ERROR', 400);
    assert.deepEqual(Object.keys(error.details), ['attachments']);
    assert.ok('filename' in error.details.attachments['0'], JSON.stringify(error.details));
  });
  test('UNAUTHORIZED', async () => {
    const client = new sdk.MailPass('mp_live_not-a-key', { maxRetries: 0 });
    await expectError(client.mail.status('x'), sdk.UnauthorizedError, 'UNAUTHORIZED', 401);
  });
  test('FORBIDDEN', async () => {
    await expectError(live('MAILPASS_TEST_KEY_NO_MAIL').mail.send(one('f')), sdk.ForbiddenError, 'FORBIDDEN', 403);
  });
  test('NOT_FOUND', async () => {
    await expectError(live().mail.status('<nothing@example.com>'), sdk.NotFoundError, 'NOT_FOUND', 404);
  });
  test('IDEMPOTENCY_CONFLICT', async () => {
    const client = live();
    const idempotencyKey = globalThis.crypto.randomUUID();
    await client.mail.send(one('i'), { idempotencyKey });
    await expectError(client.mail.send(one('j'), { idempotencyKey }), sdk.IdempotencyConflictError, 'IDEMPOTENCY_CONFLICT', 409);
  });
  test('PAYLOAD_TOO_LARGE', async () => {
    const body = { ...one('big'), text: 'x'.repeat(11 * 1024 * 1024) };
    await expectError(live().mail.send(body), sdk.PayloadTooLargeError, 'PAYLOAD_TOO_LARGE', 413);
  });
  test('NO_SMTP_PROVIDER', async () => {
    await expectError(live('MAILPASS_TEST_KEY_NO_PROVIDER').mail.send(one('n')), sdk.NoSmtpProviderError, 'NO_SMTP_PROVIDER', 422);
  });
  test('SEND_FAILED names the message', async () => {
    const client = live('MAILPASS_TEST_KEY_FAILING');
    const error = await expectError(client.mail.send(one('x')), sdk.SendFailedError, 'SEND_FAILED', 500);
    assert.equal((await client.mail.status(error.messageId)).data.message.status, 'failed');
  });
  test('SEND_LIMIT_EXCEEDED for the account quota', async () => {
    const body = { ...one('q'), cc: [address('q')] };
    const error = await expectError(live('MAILPASS_TEST_KEY_QUOTA').mail.send(body), sdk.SendLimitExceededError, 'SEND_LIMIT_EXCEEDED', 429);
    assert.equal(error.details.scope, 'account');
    assert.ok(error.retryAfter > 0);
  });
});
