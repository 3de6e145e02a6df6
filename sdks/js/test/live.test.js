// Against a live MailPass: every method, every error code the server can be made to give.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import * as sdk from '../index.js';
import { address, live, skipLive, skipTemplates } from './support.js';

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

const HOUR = 3600 * 1000;
// Whole seconds, so that the server's answer (UTC, Z) can be compared as a string.
const hoursAhead = (hours) => new Date(Math.ceil((Date.now() + hours * HOUR) / 1000) * 1000);
const utc = (date) => date.toISOString().replace('.000Z', 'Z');
const uniqueAlias = (name) => `${name}-${globalThis.crypto.randomUUID().slice(0, 8)}`;

// Creating, changing and deleting takes the `templates` permission; the rest, `mail`.
describe('templates and scheduled sending', { skip: skipTemplates }, () => {
  const editor = () => live('MAILPASS_TEST_KEY_TEMPLATES');
  const newTemplate = (alias) =>
    editor().templates.create({
      name: 'Order shipped',
      alias,
      subject: 'Order {{order_id}} shipped',
      html: '<p>Hi {{name}}</p>',
      text: 'Hi {{name}}',
      defaults: { name: 'there' },
    });

  // The whole life of a template and of a scheduled message, as the contract tells it.
  test('create, render, send with it, schedule, reschedule, cancel twice, reschedule after cancel, delete', async () => {
    const client = live();
    const alias = uniqueAlias('order-shipped');

    const created = (await newTemplate(alias)).data.template;
    assert.equal(created.alias, alias);
    assert.equal(created.version, 1);
    assert.deepEqual(created.variables, ['name', 'order_id']);
    assert.ok(Number.isInteger(created.id));
    const shown = await client.templates.get(created.id);
    assert.equal(shown.data.template.alias, alias);
    assert.deepEqual(shown.data.versions.map((v) => v.version), [1]);

    const rendered = await client.templates.render(alias, { order_id: 'A-1', name: '<Ada>' });
    assert.deepEqual(rendered.data, { subject: 'Order A-1 shipped', html: '<p>Hi &lt;Ada&gt;</p>', text: 'Hi <Ada>', version: 1 });
    const missing = await expectError(client.templates.render(alias), sdk.ValidationError, 'VALIDATION_ERROR', 400);
    assert.ok('variables' in missing.details, JSON.stringify(missing.details));

    const sent = await client.mail.send({ to: address('templated'), template: { alias, variables: { order_id: 'A-1' } } });
    assert.equal(sent.data.status, 'sent');
    const sentStatus = (await client.mail.status(sent.data.message_id)).data.message;
    assert.equal(sentStatus.subject, 'Order A-1 shipped');
    assert.deepEqual(sentStatus.template, { id: created.id, alias, version: 1 });
    assert.equal(sentStatus.scheduled_at, null);

    const inAnHour = hoursAhead(1);
    const scheduled = await client.mail.send({
      to: address('scheduled'),
      template: { id: created.id, variables: { order_id: 'A-2' } },
      scheduled_at: inAnHour,
    });
    assert.equal(scheduled.data.status, 'scheduled');
    assert.equal(scheduled.data.scheduled_at, utc(inAnHour));
    const id = scheduled.data.message_id;
    const status = (await client.mail.status(id)).data.message;
    assert.equal(status.status, 'scheduled');
    assert.equal(status.scheduled_at, utc(inAnHour));

    // Two hours ahead, written with a +01:00 offset; the answer is in UTC.
    const later = hoursAhead(2);
    const withOffset = new Date(later.getTime() + HOUR).toISOString().replace('.000Z', '+01:00');
    const moved = await client.mail.reschedule(`<${id.replace(/^<|>$/g, '')}>`, withOffset);
    assert.deepEqual(moved.data, { message_id: id, status: 'scheduled', scheduled_at: utc(later) });
    assert.deepEqual((await client.mail.reschedule(id, later)).data, moved.data);
    assert.equal((await client.mail.status(id)).data.message.scheduled_at, utc(later));

    const inUse = await expectError(editor().templates.delete(alias), sdk.TemplateInUseError, 'TEMPLATE_IN_USE', 409);
    assert.equal(inUse.details.scheduled, 1);

    assert.deepEqual((await client.mail.cancel(id)).data, { message_id: id, status: 'cancelled' });
    assert.deepEqual((await client.mail.cancel(id)).data, { message_id: id, status: 'cancelled' });
    const afterCancel = (await client.mail.status(id)).data;
    assert.equal(afterCancel.message.status, 'cancelled');
    const types = afterCancel.events.map((e) => e.event_type);
    assert.ok(types.filter((t) => t === 'scheduled').length >= 2, types.join()); // accepted, then moved
    assert.equal(types.at(-1), 'cancelled', types.join());

    const notScheduled = await expectError(client.mail.reschedule(id, hoursAhead(3)), sdk.MessageNotScheduledError, 'MESSAGE_NOT_SCHEDULED', 409);
    assert.equal(notScheduled.messageId, id);
    assert.equal(notScheduled.details.status, 'cancelled');
    const alreadySent = await expectError(client.mail.cancel(sent.data.message_id), sdk.MessageNotScheduledError, 'MESSAGE_NOT_SCHEDULED', 409);
    assert.equal(alreadySent.details.status, 'sent');

    assert.deepEqual((await editor().templates.delete(alias)).data, { id: created.id, alias });
    await expectError(client.templates.get(alias), sdk.NotFoundError, 'NOT_FOUND', 404);
  });

  test('a new version on update; older versions stay readable; the list shows the template', async () => {
    const client = live();
    const alias = uniqueAlias('versions');
    const { id } = (await newTemplate(alias)).data.template;
    const updated = await editor().templates.update(alias, { subject: 'Order {{order_id}} is on its way' });
    assert.equal(updated.data.template.version, 2);
    assert.deepEqual(updated.data.versions.map((v) => v.version), [2, 1]);
    const renamed = await editor().templates.update(id, { name: 'Renamed' });
    assert.equal(renamed.data.template.version, 2);
    assert.equal((await client.templates.get(alias, 1)).data.template.subject, 'Order {{order_id}} shipped');
    assert.equal((await client.templates.render(id, { order_id: 'B' }, 1)).data.subject, 'Order B shipped');
    assert.equal((await client.templates.render(id, { order_id: 'B' })).data.subject, 'Order B is on its way');
    const listed = await client.templates.list();
    assert.ok(listed.data.templates.some((t) => t.alias === alias && t.name === 'Renamed'));
    assert.equal((await client.templates.list({ page: 1 })).data.page, 1);
    await editor().templates.delete(id);
  });

  test("another account's message and template are not found; without permission, FORBIDDEN", async () => {
    const client = live();
    const alias = uniqueAlias('private');
    await newTemplate(alias);
    const scheduled = await client.mail.send({ ...one('private'), scheduled_at: hoursAhead(1) });
    const outsider = live('MAILPASS_TEST_KEY_NO_PROVIDER');
    await expectError(outsider.mail.cancel(scheduled.data.message_id), sdk.NotFoundError, 'NOT_FOUND', 404);
    await expectError(outsider.mail.reschedule(scheduled.data.message_id, hoursAhead(2)), sdk.NotFoundError, 'NOT_FOUND', 404);
    await expectError(outsider.templates.get(alias), sdk.NotFoundError, 'NOT_FOUND', 404);
    await expectError(outsider.templates.render(alias, { order_id: 'x' }), sdk.NotFoundError, 'NOT_FOUND', 404);
    await expectError(live('MAILPASS_TEST_KEY_NO_MAIL').templates.get(alias), sdk.ForbiddenError, 'FORBIDDEN', 403);
    await expectError(client.templates.create({ name: 'n', alias: uniqueAlias('mail-only'), subject: 's', text: 't' }), sdk.ForbiddenError, 'FORBIDDEN', 403);
    await expectError(client.templates.update(alias, { name: 'n' }), sdk.ForbiddenError, 'FORBIDDEN', 403);
    await expectError(client.templates.delete(alias), sdk.ForbiddenError, 'FORBIDDEN', 403);
    await client.mail.cancel(scheduled.data.message_id);
    await editor().templates.delete(alias);
  });
});

describe('scheduled sending', { skip: skipLive }, () => {
  test('a batch item can be scheduled: it counts as queued', async () => {
    const client = live();
    const when = hoursAhead(1);
    const result = await client.mail.sendBatch({ messages: [{ ...one('batch-now') }, { ...one('batch-later'), scheduled_at: when }] });
    assert.deepEqual([result.data.total, result.data.queued, result.data.failed], [2, 2, 0]);
    const [now, later] = result.data.messages;
    assert.equal(now.status, 'queued');
    assert.equal(later.status, 'scheduled');
    assert.equal(later.scheduled_at, utc(when));
    assert.equal((await client.mail.cancel(later.message_id)).data.status, 'cancelled');
  });

  test('the server checks the time: an offset, not in the past, at most 30 days ahead', async () => {
    const client = live();
    for (const when of ['2030-01-01T09:00:00', new Date(Date.now() - HOUR), hoursAhead(31 * 24)]) {
      const error = await expectError(client.mail.send({ ...one('when'), scheduled_at: when }), sdk.ValidationError, 'VALIDATION_ERROR', 400);
      assert.deepEqual(Object.keys(error.details), ['scheduled_at'], String(when));
    }
    const both = await expectError(
      client.mail.send({ to: address('both'), subject: 's', text: 't', template: { alias: 'whatever' } }),
      sdk.ValidationError,
      'VALIDATION_ERROR',
      400
    );
    assert.ok('template' in both.details);
  });
});
