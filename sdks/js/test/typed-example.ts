// Not run: type-checked by `tsc --noEmit` so the declarations match how the README uses them.
import {
  MailPass,
  MailPassApiError,
  RecipientSuppressedError,
  attachmentFromBytes,
  attachmentFromPath,
  type Attachment,
  type SendParams,
  type StatusAttachment,
} from '@mailpass/client';

const mailpass = new MailPass('mp_live_YOUR_KEY', { baseUrl: 'https://mail.example.com', timeout: 10_000, maxRetries: 1 });

export async function example(): Promise<string> {
  const message: SendParams = { to: 'a@example.com', subject: 'Hi', html: '<p>Hi</p>', tags: ['t'], metadata: { n: 1 } };
  const sent = await mailpass.mail.send(message, { idempotencyKey: 'order-1' });
  const id: string = sent.data.message_id;
  const batch = await mailpass.mail.sendBatch({ messages: [message], from_email: 'support@example.com' });
  const queued: number = batch.data.queued;
  await mailpass.mail.status(id, { events_after: 10 });
  const invoice: Attachment = await attachmentFromPath(new URL('./invoice.pdf', 'file:///srv/'), { contentType: 'application/pdf' });
  const logo = attachmentFromBytes('logo.png', new Uint8Array([137, 80, 78, 71]), { contentType: 'image/png', contentId: 'logo' });
  const withFiles = await mailpass.mail.send({
    ...message,
    html: '<img src="cid:logo">',
    attachments: [invoice, logo, attachmentFromBytes('a.bin', new ArrayBuffer(1))],
    headers: { 'X-Invoice-Id': '2024-017' },
    unsubscribe: true,
  });
  const [first]: StatusAttachment[] = (await mailpass.mail.status(withFiles.data.message_id)).data.message.attachments;
  const inline: string | null = first.content_id;
  const size: number = first.size;
  await mailpass.suppressions.add({ email: 'gone@example.com', reason: 'unsubscribed' });
  await mailpass.suppressions.add('other@example.com');
  await mailpass.suppressions.list({ page: 1 });
  await mailpass.suppressions.remove('gone@example.com');
  try {
    await mailpass.mail.send(message);
  } catch (error) {
    if (error instanceof RecipientSuppressedError) return error.code;
    if (error instanceof MailPassApiError) return `${error.status} ${error.messageId ?? ''}`;
  }
  return `${id} ${queued} ${inline} ${size}`;
}
