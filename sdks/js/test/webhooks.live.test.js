// Against a live MailPass: the webhooks resource end to end, and test mode (a test key of an
// account without any provider) never sending and never mixing with live data.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as sdk from '../index.js';
import { live, skipWebhooks } from './support.js';

async function rejectsWith(promise, cls) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof cls, `${error?.name}: ${error?.message}`);
    return true;
  });
}

describe('webhooks', { skip: skipWebhooks }, () => {
  test('create, read, change, disable, test events, deliveries, retry, rotate, delete', async () => {
    const client = live('MAILPASS_TEST_KEY_WEBHOOKS');
    const created = await client.webhooks.create({
      url: 'http://127.0.0.1:9/hook',
      description: 'JS suite',
      events: ['bounced', 'delivered'],
    });
    const { webhook, secret } = created.data;
    assert.match(secret, /^whsec_/);
    assert.deepEqual(webhook.events, ['delivered', 'bounced']); // the documented order
    try {
      const listed = await client.webhooks.list();
      assert.ok(listed.data.webhooks.some((one) => one.id === webhook.id));
      assert.equal((await client.webhooks.get(webhook.id)).data.webhook.description, 'JS suite');
      assert.equal('secret' in (await client.webhooks.get(webhook.id)).data, false);

      const disabled = await client.webhooks.update(webhook.id, { enabled: false, events: ['sent'] });
      assert.equal(disabled.data.webhook.disabled_reason, 'manual');
      assert.deepEqual(disabled.data.webhook.events, ['sent']);
      await rejectsWith(client.webhooks.test(webhook.id), sdk.WebhookDisabledError);
      await client.webhooks.update(webhook.id, { enabled: true });

      const queued = await client.webhooks.test(webhook.id);
      assert.equal(queued.data.delivery.type, 'webhook.test');
      assert.equal(queued.data.delivery.status, 'pending');
      const log = await client.webhooks.deliveries(webhook.id);
      assert.ok(log.data.deliveries.some((one) => one.id === queued.data.delivery.id));
      const retried = await client.webhooks.retryDelivery(webhook.id, queued.data.delivery.id);
      assert.equal(retried.data.delivery.event_id, queued.data.delivery.event_id);
      await rejectsWith(client.webhooks.deliveries(webhook.id, { status: 'nope' }), sdk.ValidationError);

      const rotated = await client.webhooks.rotateSecret(webhook.id, 1);
      assert.match(rotated.data.secret, /^whsec_/);
      assert.notEqual(rotated.data.secret, secret);
      assert.ok(rotated.data.webhook.previous_secret_expires_at);
    } finally {
      assert.deepEqual((await client.webhooks.delete(webhook.id)).data, { id: webhook.id });
    }
    await rejectsWith(client.webhooks.get(webhook.id), sdk.NotFoundError);
    await rejectsWith(client.webhooks.create({ url: 'ftp://example.com/hook' }), sdk.ValidationError);
    await rejectsWith(live().webhooks.list(), sdk.ForbiddenError); // a key without `webhooks`
  });
});

describe('test mode', { skip: skipWebhooks }, () => {
  test('a test key sends nothing, needs no provider, and sees only test data', async () => {
    const testKey = live('MAILPASS_TEST_KEY_TEST_MODE');
    const message = { from_email: 'shop@example.com', subject: 'Test mode', text: 'Hi' };
    const delivered = await testKey.mail.send({ ...message, to: 'delivered@test.mailpass.invalid' });
    assert.equal(delivered.data.status, 'sent'); // as a provider that took it; delivered comes next
    const looked = await testKey.mail.status(delivered.data.message_id);
    assert.equal(looked.data.message.test, true);
    assert.equal(looked.data.message.status, 'delivered');
    assert.deepEqual(looked.data.events.map((event) => event.event_type), ['delivered']);
    await rejectsWith(live().mail.status(delivered.data.message_id), sdk.NotFoundError);

    const bounced = await testKey.mail.send({ ...message, to: 'bounced+js@test.mailpass.invalid' });
    assert.equal((await testKey.mail.status(bounced.data.message_id)).data.message.status, 'bounced');
    await rejectsWith(testKey.mail.send({ ...message, to: 'bounced+js@test.mailpass.invalid' }), sdk.RecipientSuppressedError);
    const { data } = await testKey.suppressions.list({ email: 'bounced+js@test.mailpass.invalid' });
    assert.equal(data.total, 1);
    await testKey.suppressions.remove('bounced+js@test.mailpass.invalid');

    await rejectsWith(testKey.mail.send({ to: 'delivered@test.mailpass.invalid', subject: 's', text: 't' }), sdk.ValidationError);
  });
});
