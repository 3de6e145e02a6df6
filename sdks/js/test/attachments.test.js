// attachmentFromPath and attachmentFromBytes, and how attachments, headers and unsubscribe
// travel in a request (through the retry fake, which records each body).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { attachmentFromBytes, attachmentFromPath } from '../index.js';
import { MESSAGE, attempts, fake, skipLive } from './support.js';

// Every byte value, so nothing is lost between the file and the base64.
const BINARY = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.from([...Array(256).keys()]), Buffer.from('\n%%EOF\n')]);
const b64 = (bytes) => Buffer.from(bytes).toString('base64');

describe('attachmentFromPath', () => {
  let dir;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mailpass-js-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('the name comes from the path (a string or a file: URL) and the bytes are base64', async () => {
    const path = join(dir, 'invoice-2024-017.pdf');
    await writeFile(path, BINARY);
    for (const given of [path, pathToFileURL(path)]) {
      const attachment = await attachmentFromPath(given);
      assert.deepEqual(Object.keys(attachment), ['filename', 'content']);
      assert.equal(attachment.filename, 'invoice-2024-017.pdf');
      assert.deepEqual(Buffer.from(attachment.content, 'base64'), BINARY);
    }
  });

  test('a type and a content id for an inline image', async () => {
    const path = join(dir, 'logo.png');
    await writeFile(path, Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'));
    assert.deepEqual(await attachmentFromPath(path, { contentType: 'image/png', contentId: 'logo' }), {
      filename: 'logo.png',
      content: b64(Buffer.from('\x89PNG\r\n\x1a\n', 'latin1')),
      content_type: 'image/png',
      content_id: 'logo',
    });
  });

  test('a non-ASCII name is kept whole', async () => {
    const path = join(dir, 'Rechnung März – 2024.pdf');
    await writeFile(path, BINARY);
    assert.equal((await attachmentFromPath(path)).filename, 'Rechnung März – 2024.pdf');
  });

  test("a missing file rejects with fs's ENOENT, naming it", async () => {
    const path = join(dir, 'no-such-invoice.pdf');
    await assert.rejects(attachmentFromPath(path), (error) => {
      assert.equal(error.code, 'ENOENT');
      assert.ok(error.message.includes(path), error.message);
      return true;
    });
  });

  test('a directory is not a file', async () => {
    await assert.rejects(attachmentFromPath(dir), { code: 'EISDIR' });
  });
});

describe('attachmentFromBytes', () => {
  test('a Buffer, a Uint8Array, an ArrayBuffer and other views', () => {
    const csv = new TextEncoder().encode('a,b\n1,2\n');
    const expected = { filename: 'report.csv', content: b64(csv) };
    const padded = new Uint8Array([0, ...csv, 0]);
    for (const data of [Buffer.from(csv), csv, csv.buffer, new DataView(padded.buffer, 1, csv.length), padded.subarray(1, -1)]) {
      assert.deepEqual(attachmentFromBytes('report.csv', data), expected);
    }
  });

  test('only the options given are set', () => {
    assert.deepEqual(attachmentFromBytes('invoice.pdf', BINARY, { contentType: 'application/pdf' }), {
      filename: 'invoice.pdf',
      content: b64(BINARY),
      content_type: 'application/pdf',
    });
    assert.deepEqual(attachmentFromBytes('x.gif', Buffer.from('GIF'), { contentId: 'x@example.com' }), {
      filename: 'x.gif',
      content: 'R0lG',
      content_id: 'x@example.com',
    });
  });

  test('without Buffer (a browser) the same base64 comes out', () => {
    const big = new Uint8Array(100_000).map((_, i) => (i * 7) % 256); // more than one slice
    const saved = globalThis.Buffer;
    let attachment;
    globalThis.Buffer = undefined;
    try {
      attachment = attachmentFromBytes('big.bin', big);
    } finally {
      globalThis.Buffer = saved;
    }
    assert.equal(attachment.content, b64(big));
  });

  test('text is refused with a hint', () => {
    assert.throws(() => attachmentFromBytes('notes.txt', 'plain text'), (error) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /TextEncoder/);
      return true;
    });
  });
});

describe('request bodies', { skip: skipLive }, () => {
  test('attachments, headers and unsubscribe are sent as given', async () => {
    const [client, key] = fake('ok');
    const message = {
      ...MESSAGE,
      html: '<p><img src="cid:logo"></p>',
      attachments: [
        attachmentFromBytes('invoice.pdf', BINARY, { contentType: 'application/pdf' }),
        attachmentFromBytes('logo.png', Buffer.from('\x89PNG', 'latin1'), { contentType: 'image/png', contentId: 'logo' }),
      ],
      headers: { 'X-Campaign': 'spring', 'In-Reply-To': '<a.1@example.com>' },
      unsubscribe: true,
    };
    await client.mail.send(message);
    await client.mail.sendBatch({ messages: [message, { ...message, headers: {} }] });
    const [send, batch] = (await attempts(key)).map((a) => JSON.parse(a.body));
    assert.deepEqual(send, message);
    assert.deepEqual(batch.messages, [message, { ...message, headers: {} }]);
  });
});
