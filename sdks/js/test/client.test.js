import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inspect } from 'node:util';
import * as sdk from '../index.js';
import { attempts, fake, skipLive } from './support.js';

const { MailPass } = sdk;
const SECRET = 'mp_live_secret-never-shown-0123456789';

test('no base URL and no environment variable says which to set', () => {
  const saved = process.env.MAILPASS_BASE_URL;
  delete process.env.MAILPASS_BASE_URL;
  try {
    assert.throws(() => new MailPass('mp_live_x'), (error) => {
      assert.ok(error instanceof sdk.MailPassConfigurationError);
      assert.match(error.message, /baseUrl/);
      assert.match(error.message, /MAILPASS_BASE_URL/);
      return true;
    });
  } finally {
    if (saved !== undefined) process.env.MAILPASS_BASE_URL = saved;
  }
});

test('the environment variable gives the base URL', () => {
  const saved = process.env.MAILPASS_BASE_URL;
  process.env.MAILPASS_BASE_URL = 'https://mail.example.com/';
  try {
    assert.equal(new MailPass('mp_live_x').baseUrl, 'https://mail.example.com');
  } finally {
    if (saved === undefined) delete process.env.MAILPASS_BASE_URL;
    else process.env.MAILPASS_BASE_URL = saved;
  }
});

test('an empty key and bad options are refused', () => {
  const baseUrl = 'https://mail.example.com';
  for (const [key, options] of [[' ', { baseUrl }], ['k', { baseUrl, timeout: 0 }], ['k', { baseUrl, maxRetries: -1 }], ['k', { baseUrl: 'mail.example.com' }]]) {
    assert.throws(() => new MailPass(key, options), sdk.MailPassConfigurationError);
  }
});

test('every error shares one root; network errors are not API errors', () => {
  for (const cls of [sdk.MailPassApiError, sdk.MailPassNetworkError, sdk.MailPassTimeoutError, sdk.MailPassConfigurationError, sdk.SendFailedError, sdk.WebhookVerificationError]) {
    assert.ok(cls.prototype instanceof sdk.MailPassError);
  }
  assert.ok(!(sdk.MailPassNetworkError.prototype instanceof sdk.MailPassApiError));
  assert.ok(!(sdk.WebhookVerificationError.prototype instanceof sdk.MailPassApiError));
  assert.equal(Object.keys(sdk.ERRORS_BY_CODE).length, 17);
  assert.equal(sdk.ERRORS_BY_CODE.DOMAIN_NOT_VERIFIED, sdk.DomainNotVerifiedError);
  assert.equal(sdk.ERRORS_BY_CODE.WEBHOOK_DISABLED, sdk.WebhookDisabledError);
  assert.equal(sdk.ERRORS_BY_CODE.MESSAGE_NOT_SCHEDULED, sdk.MessageNotScheduledError);
  assert.equal(sdk.ERRORS_BY_CODE.TEMPLATE_IN_USE, sdk.TemplateInUseError);
});

test('the key is not in inspect, JSON or the enumerable fields', () => {
  const client = new MailPass(SECRET, { baseUrl: 'https://mail.example.com' });
  for (const text of [inspect(client, { showHidden: true, depth: 5 }), JSON.stringify(client), String(Object.entries(client)), inspect(client.mail)]) {
    assert.ok(!text.includes(SECRET), text);
  }
});

test('the key is not in error messages', { skip: skipLive }, async () => {
  const client = new MailPass(SECRET, { baseUrl: process.env.MAILPASS_BASE_URL, maxRetries: 0 });
  await assert.rejects(client.mail.send({ to: 'a@example.com', subject: 's', text: 't' }), (error) => {
    assert.ok(error instanceof sdk.UnauthorizedError);
    assert.ok(!inspect(error).includes(SECRET));
    return true;
  });
  const unreachable = new MailPass(SECRET, { baseUrl: 'http://127.0.0.1:9', maxRetries: 0 });
  await assert.rejects(unreachable.mail.status('x'), (error) => {
    assert.ok(error instanceof sdk.MailPassNetworkError);
    assert.ok(!inspect(error).includes(SECRET));
    return true;
  });
});

test('the user agent names the library', { skip: skipLive }, async () => {
  const [client, key] = fake('ok');
  await client.mail.status('x');
  const [first] = await attempts(key);
  assert.equal(first.headers['user-agent'], `mailpass-js/${sdk.VERSION}`);
});
