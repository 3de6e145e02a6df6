// Against tests/sdks/retry_fake.py: what is retried, how often, how far apart, with which key.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as sdk from '../index.js';
import { MESSAGE, attempts, fake, skipLive } from './support.js';

const keysSent = async (key) => (await attempts(key)).map((a) => a.headers['idempotency-key']);

describe('retries', { skip: skipLive }, () => {
  test('a dropped connection is retried with the same Idempotency-Key', async () => {
    const [client, key] = fake('drop.ok');
    const result = await client.mail.send(MESSAGE);
    assert.equal(result.data.message_id, '<fake.1@fake.test>');
    const sent = await keysSent(key);
    assert.equal(sent.length, 2);
    assert.ok(sent[0]);
    assert.equal(sent[0], sent[1]);
  });

  test('each call has a fresh key unless the caller gives one', async () => {
    const [client, key] = fake('ok');
    await client.mail.send(MESSAGE);
    await client.mail.sendBatch({ messages: [MESSAGE] });
    await client.mail.send(MESSAGE, { idempotencyKey: 'mine-1' });
    const [first, second, third] = await keysSent(key);
    assert.notEqual(first, second);
    assert.equal(third, 'mine-1');
  });

  test('Retry-After is honoured', async () => {
    const [client, key] = fake('r429-1.ok');
    await client.mail.send(MESSAGE);
    const [first, second] = await attempts(key);
    assert.ok(second.at - first.at >= 1.0, `${second.at - first.at}`);
  });

  test('server errors are retried, SEND_FAILED and VALIDATION_ERROR are not', async () => {
    for (const [script, retried] of [['e503.ok', true], ['e500.ok', true], ['e502html.ok', true], ['failed', false], ['invalid', false]]) {
      const [client, key] = fake(script);
      if (retried) await client.mail.send(MESSAGE);
      else await assert.rejects(client.mail.send(MESSAGE), sdk.MailPassApiError);
      assert.equal((await attempts(key)).length, retried ? 2 : 1, script);
    }
  });

  test('SEND_LIMIT_EXCEEDED is retried only when asked', async () => {
    let [client, key] = fake('q429-1.ok');
    await assert.rejects(client.mail.send(MESSAGE), (error) => error instanceof sdk.SendLimitExceededError && error.retryAfter === 1);
    assert.equal((await attempts(key)).length, 1);
    [client, key] = fake('q429-1.ok', { retryOnSendLimit: true });
    await client.mail.send(MESSAGE);
    assert.equal((await attempts(key)).length, 2);
  });

  test('no retries when turned off', async () => {
    const [client, key] = fake('e503.ok', { maxRetries: 0 });
    await assert.rejects(client.mail.send(MESSAGE), sdk.UnavailableError);
    assert.equal((await attempts(key)).length, 1);
  });

  test('a long Retry-After is thrown, not waited for', async () => {
    const [client, key] = fake('r429-120.ok');
    await assert.rejects(client.mail.send(MESSAGE), (error) => error instanceof sdk.RateLimitedError && error.retryAfter === 120);
    assert.equal((await attempts(key)).length, 1);
  });

  test('when retries run out the last error is thrown', async () => {
    const [client, key] = fake('e503.e503.e500');
    await assert.rejects(client.mail.send(MESSAGE), (error) => error instanceof sdk.InternalServerError && error.code === 'INTERNAL_ERROR');
    assert.equal((await attempts(key)).length, 3);
  });

  test('an answer that is not JSON is UNEXPECTED_RESPONSE', async () => {
    const [client] = fake('e502html', { maxRetries: 0 });
    await assert.rejects(client.mail.send(MESSAGE), (error) => {
      assert.equal(error.constructor, sdk.MailPassApiError);
      assert.equal(error.code, 'UNEXPECTED_RESPONSE');
      assert.equal(error.status, 502);
      assert.match(error.message, /502 Bad Gateway/);
      return true;
    });
  });

  test('RATE_LIMITED maps by code', async () => {
    const [client] = fake('r429-1', { maxRetries: 0 });
    await assert.rejects(client.suppressions.list(), (error) => error instanceof sdk.RateLimitedError && error.status === 429 && error.retryAfter === 1);
  });

  test('a timeout has its own class', async () => {
    const [client] = fake('sleep-3', { timeout: 1000, maxRetries: 0 });
    await assert.rejects(client.mail.send(MESSAGE), sdk.MailPassTimeoutError);
  });

  test('a refused connection is a network error after the retries', async () => {
    const client = new sdk.MailPass('k', { baseUrl: 'http://127.0.0.1:9', backoff: 10 });
    await assert.rejects(client.mail.status('x'), (error) => error instanceof sdk.MailPassNetworkError && !(error instanceof sdk.MailPassTimeoutError));
  });
});
