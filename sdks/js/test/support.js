// Where the suite's servers are: set by tests/sdks/conftest.py of the MailPass repository.
import { MailPass } from '../index.js';

export const MISSING = ['MAILPASS_BASE_URL', 'MAILPASS_TEST_KEY', 'MAILPASS_FAKE_URL'].filter((n) => !process.env[n]);
export const skipLive = MISSING.length ? `not set: ${MISSING.join(', ')} (tests/sdks sets them)` : false;
// A key of MAILPASS_TEST_KEY's account with the `templates` permission too: tests/sdks/test_js_sdk.py.
export const skipTemplates =
  skipLive || (process.env.MAILPASS_TEST_KEY_TEMPLATES ? false : 'not set: MAILPASS_TEST_KEY_TEMPLATES (tests/sdks sets it)');

// The webhook and test-mode keys: tests/sdks/test_js_sdk.py sets them too.
export const skipWebhooks =
  skipLive ||
  (['MAILPASS_TEST_KEY_WEBHOOKS', 'MAILPASS_TEST_KEY_TEST_MODE'].filter((n) => !process.env[n]).map((n) => `not set: ${n}`)[0] ?? false);

export function live(keyName = 'MAILPASS_TEST_KEY', options = {}) {
  return new MailPass(process.env[keyName], { backoff: 10, ...options });
}

export function fake(script, options = {}) {
  const key = `${script}~${globalThis.crypto.randomUUID()}`;
  return [new MailPass(key, { baseUrl: process.env.MAILPASS_FAKE_URL, backoff: 10, ...options }), key];
}

export async function attempts(key) {
  const response = await fetch(`${process.env.MAILPASS_FAKE_URL}/_log/${encodeURIComponent(key)}`);
  return response.json();
}

export function address(name) {
  return `${name}-${globalThis.crypto.randomUUID().slice(0, 8)}@example.com`;
}

export const MESSAGE = { to: 'a@example.com', subject: 's', text: 't' };

// The sender domain keys: MAILPASS_TEST_KEY_DOMAINS (an account without domains) and
// MAILPASS_TEST_KEY_STRICT (only verified domains may send; verified.example is one), both
// with `mail` and `domains`; tests/sdks/conftest.py sets them.
export const skipDomains =
  skipLive ||
  (['MAILPASS_TEST_KEY_DOMAINS', 'MAILPASS_TEST_KEY_STRICT'].filter((n) => !process.env[n]).map((n) => `not set: ${n}`)[0] ?? false);

/**
 * A client whose fetch records each request and answers from `answers` in turn, the last
 * one repeating: `{ data }` for a success envelope (status 200 unless given), `{ status: 204 }`
 * for no body at all, or `{ status, error: { code, details } }` for an error envelope. No server: these run everywhere.
 */
export function recording(answers = [{}], options = {}) {
  const requests = [];
  const fetch = async (url, init) => {
    const parsed = new URL(url);
    requests.push({
      method: init.method,
      path: parsed.pathname,
      query: Object.fromEntries(parsed.searchParams),
      url,
      headers: init.headers,
      body: init.body === undefined ? undefined : JSON.parse(init.body),
    });
    const { status, data = {}, error } = answers[Math.min(requests.length - 1, answers.length - 1)];
    if (status === 204) return new Response(null, { status }); // No Content: no body at all
    const payload = error
      ? { success: false, error: { message: `${error.code} (recorded)`, details: {}, ...error } }
      : { success: true, data };
    return new Response(JSON.stringify(payload), {
      status: status ?? (error ? 400 : 200),
      headers: { 'Content-Type': 'application/json' },
    });
  };
  const client = new MailPass('mp_live_recorded', { baseUrl: 'https://mail.example.com', backoff: 1, fetch, ...options });
  return [client, requests];
}
