// Against a live MailPass: the domains resource end to end (nothing is published for the
// suite's domains, so a check fails them), and the sending rule of an account that sends only
// from verified domains (verified.example's records are on the tests' DNS server).
import assert from 'node:assert/strict';
import { domainToASCII } from 'node:url';
import { describe, test } from 'node:test';
import * as sdk from '../index.js';
import { address, live, skipDomains } from './support.js';

async function rejectsWith(promise, cls, status) {
  let caught;
  await assert.rejects(promise, (error) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof cls, `${caught?.name}: ${caught?.message}`);
  assert.equal(caught.status, status);
  return caught;
}

const randomName = (label = 'sdk') => `${label}-${globalThis.crypto.randomUUID().slice(0, 8)}.example`;
const dkimOf = (domain) => domain.records.filter((record) => record.purpose === 'dkim');
const selectors = (domain) => dkimOf(domain).map((record) => record.selector).sort();

describe('domains', { skip: skipDomains }, () => {
  test('create, get by id and by name, list, verify, rotate twice, a second create, delete', async () => {
    const client = live('MAILPASS_TEST_KEY_DOMAINS');
    const name = randomName();

    const created = await client.domains.create(name);
    assert.equal(created.success, true);
    const domain = created.data.domain;
    assert.equal(domain.name, name);
    assert.equal(domain.status, 'pending');
    assert.equal(domain.signing, false);
    assert.equal(domain.ed25519, false);
    assert.ok(Number.isInteger(domain.id));
    const [dkim, ...others] = dkimOf(domain);
    assert.equal(others.length, 0, JSON.stringify(domain.records));
    assert.ok(dkim.value.startsWith('v=DKIM1; k=rsa; p='), dkim.value);
    assert.equal(dkim.name, `${dkim.selector}._domainkey.${name}`);
    assert.match(dkim.selector, /^mp\d{8}$/);
    assert.deepEqual([dkim.type, dkim.algorithm, dkim.key_state, dkim.status, dkim.found], ['TXT', 'rsa-sha256', 'active', 'pending', null]);
    const dmarc = domain.records.find((record) => record.purpose === 'dmarc');
    assert.equal(dmarc?.name, `_dmarc.${name}`, JSON.stringify(domain.records));
    assert.ok(!JSON.stringify(created).includes('PRIVATE'), 'no private key in the answer');

    assert.deepEqual((await client.domains.get(domain.id)).data.domain, domain);
    assert.deepEqual((await client.domains.get(name)).data.domain, domain);
    const listed = await client.domains.list();
    assert.ok(listed.data.domains.some((one) => one.id === domain.id && one.name === name));
    assert.equal(listed.data.page, 1);
    assert.equal((await client.domains.list({ page: 1 })).data.total, listed.data.total);

    const verified = (await client.domains.verify(name)).data.domain;
    assert.equal(verified.status, 'failed');
    assert.equal(verified.signing, false);
    assert.ok(verified.checked_at);
    const [checked] = dkimOf(verified);
    assert.equal(checked.status, 'failed');
    assert.ok(checked.detail, JSON.stringify(checked));

    const rotated = (await client.domains.rotate(domain.id)).data.domain;
    const dkims = dkimOf(rotated);
    assert.equal(dkims.length, 2, JSON.stringify(rotated.records));
    const pending = dkims.find((record) => record.key_state === 'pending');
    assert.ok(pending, JSON.stringify(dkims));
    assert.notEqual(pending.selector, dkim.selector);
    assert.ok(pending.value.startsWith('v=DKIM1; k=rsa; p='), pending.value);
    assert.ok(dkims.some((record) => record.key_state === 'active' && record.selector === dkim.selector));
    const again = (await client.domains.rotate(name)).data.domain;
    assert.deepEqual(selectors(again), selectors(rotated)); // still pending: nothing new
    assert.deepEqual(dkimOf(again).find((record) => record.key_state === 'pending').value, pending.value);

    const twice = await rejectsWith(client.domains.create({ name, ed25519: false }), sdk.ValidationError, 400);
    assert.equal(twice.code, 'VALIDATION_ERROR');
    assert.ok('name' in twice.details, JSON.stringify(twice.details));

    const deleted = await client.domains.delete(name);
    assert.equal(deleted.success, true);
    if (deleted.data !== null) assert.deepEqual(deleted.data, { id: domain.id, name }); // the contract says 204
    await rejectsWith(client.domains.get(domain.id), sdk.NotFoundError, 404);
    await rejectsWith(client.domains.get(name), sdk.NotFoundError, 404);
  });

  test('an IDN is stored as punycode, lower case; ed25519 adds a second key from the start', async () => {
    const client = live('MAILPASS_TEST_KEY_DOMAINS');
    const name = randomName('SDK-Bücher');
    const ascii = domainToASCII(name.toLowerCase());
    assert.ok(ascii.startsWith('xn--'), ascii);
    const { domain } = (await client.domains.create({ name, ed25519: true })).data;
    assert.equal(domain.name, ascii);
    assert.equal(domain.ed25519, true);
    const keys = dkimOf(domain).map((record) => [record.algorithm, record.key_state]).sort();
    assert.deepEqual(keys, [['ed25519-sha256', 'active'], ['rsa-sha256', 'active']]);
    const ed = dkimOf(domain).find((record) => record.algorithm === 'ed25519-sha256');
    assert.match(ed.selector, /^mp\d{8}e$/);
    assert.ok(ed.value.startsWith('v=DKIM1; k=ed25519; p='), ed.value);
    assert.equal((await client.domains.get(ascii)).data.domain.id, domain.id);
    await client.domains.delete(domain.id);
  });

  test('bad names are a ValidationError; another key without `domains` is FORBIDDEN', async () => {
    const client = live('MAILPASS_TEST_KEY_DOMAINS');
    for (const name of ['localhost', '127.0.0.1', 'not a domain', `${'a'.repeat(250)}.example`]) {
      await rejectsWith(client.domains.create(name), sdk.ValidationError, 400);
    }
    await rejectsWith(client.domains.get('nothing-here.example'), sdk.NotFoundError, 404);
    await rejectsWith(live().domains.list(), sdk.ForbiddenError, 403); // MAILPASS_TEST_KEY: `mail` only
  });
});

describe('only verified domains send', { skip: skipDomains }, () => {
  const strict = () => live('MAILPASS_TEST_KEY_STRICT');
  const from = (fromEmail, name) => ({ to: address(name), from_email: fromEmail, subject: 'Sender domains', text: 'Hi' });

  test('verified.example is verified and signs', async () => {
    const { domain } = (await strict().domains.get('verified.example')).data;
    assert.equal(domain.status, 'verified');
    assert.equal(domain.signing, true);
    assert.ok(domain.verified_at);
    assert.ok(dkimOf(domain).some((record) => record.key_state === 'active' && record.status === 'verified'));
  });

  test('a send from a verified domain (or below it) goes; from another, DomainNotVerifiedError', async () => {
    const client = strict();
    const sent = await client.mail.send(from('hello@verified.example', 'verified'));
    assert.equal(sent.data.status, 'sent');
    assert.equal(sent.data.from, 'hello@verified.example');
    const below = await client.mail.send(from('news@mail.verified.example', 'subdomain'));
    assert.equal(below.data.status, 'sent');

    const error = await rejectsWith(client.mail.send(from('hello@unverified.example', 'unverified')), sdk.DomainNotVerifiedError, 422);
    assert.equal(error.code, 'DOMAIN_NOT_VERIFIED');
    assert.equal(error.details.domain, 'unverified.example');
    assert.ok(error.message);
  });

  test('in a batch, the item from an unverified domain fails and the other is queued', async () => {
    const result = await strict().mail.sendBatch({
      messages: [from('hello@verified.example', 'batch-ok'), from('hello@unverified.example', 'batch-refused')],
    });
    assert.deepEqual([result.data.total, result.data.queued, result.data.failed], [2, 1, 1]);
    const [queued, failed] = result.data.messages;
    assert.equal(queued.status, 'queued');
    assert.ok(queued.message_id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error.code, 'DOMAIN_NOT_VERIFIED', JSON.stringify(failed));
    assert.equal(failed.error.details.domain, 'unverified.example');
  });
});
