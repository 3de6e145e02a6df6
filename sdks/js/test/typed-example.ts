// Not run: type-checked by `tsc --noEmit` so the declarations match how the README uses them.
import {
  DomainNotVerifiedError,
  MailPass,
  MailPassApiError,
  MessageNotScheduledError,
  RecipientSuppressedError,
  TemplateInUseError,
  WebhookDisabledError,
  WebhookVerificationError,
  attachmentFromBytes,
  verifyWebhook,
  type WebhookEvent,
  attachmentFromPath,
  type Attachment,
  type DkimRecord,
  type Domain,
  type SendParams,
  type StatusAttachment,
  type Template,
  type TemplateSendParams,
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
  const created: Template = (
    await mailpass.templates.create({
      name: 'Order shipped',
      alias: 'order-shipped',
      subject: 'Order {{order_id}} shipped',
      html: '<p>Hi {{name}}</p>',
      defaults: { name: 'there' },
    })
  ).data.template;
  const names: string[] = created.variables;
  await mailpass.templates.list();
  await mailpass.templates.list(2);
  await mailpass.templates.list({ page: 1 });
  const versions = (await mailpass.templates.get('order-shipped')).data.versions.map((v) => v.version);
  await mailpass.templates.get(created.id, 1, { signal: AbortSignal.timeout(5000) });
  await mailpass.templates.update('order-shipped', { text: 'Hi {{name}}' });
  const rendered = await mailpass.templates.render(created.id, { order_id: 'A-1', lines: [{ sku: 'x', qty: 2 }] }, 2);
  const subject: string = rendered.data.subject;
  const fromTemplate: TemplateSendParams = {
    to: 'a@example.com',
    template: { alias: 'order-shipped', variables: { order_id: 'A-1' }, version: 1 },
    scheduled_at: new Date(Date.now() + 3_600_000),
  };
  const scheduled = await mailpass.mail.send(fromTemplate);
  const due: string | undefined = scheduled.data.scheduled_at;
  await mailpass.mail.sendBatch({
    messages: [{ to: 'b@example.com', template: { id: created.id } }, { ...message, scheduled_at: '2026-12-05T09:00:00+01:00' }],
  });
  const moved = await mailpass.mail.reschedule(scheduled.data.message_id, '2026-12-05T09:00:00+01:00');
  const movedTo: string = moved.data.scheduled_at;
  const cancelled: 'cancelled' = (await mailpass.mail.cancel(scheduled.data.message_id)).data.status;
  const usedTemplate = (await mailpass.mail.status(scheduled.data.message_id)).data.message.template?.alias;
  try {
    await mailpass.templates.delete('order-shipped');
    await mailpass.mail.cancel(id);
  } catch (error) {
    if (error instanceof TemplateInUseError) return String(error.details.scheduled);
    if (error instanceof MessageNotScheduledError) return `${error.messageId} is ${error.details.status}`;
  }
  // @ts-expect-error: a template gives the subject, so a message cannot have both
  const both: SendParams = { to: 'a@example.com', subject: 's', template: { alias: 'x' } };
  // @ts-expect-error: a template is named by alias or id, not both
  const twoNames: SendParams = { to: 'a@example.com', template: { alias: 'x', id: 1 } };
  try {
    await mailpass.mail.send(message);
  } catch (error) {
    if (error instanceof RecipientSuppressedError) return error.code;
    if (error instanceof MailPassApiError) return `${error.status} ${error.messageId ?? ''}`;
  }
  const endpoint = await mailpass.webhooks.create({ url: 'https://app.example.com/hooks', events: ['delivered', 'bounced'] });
  const secret: string = endpoint.data.secret;
  await mailpass.webhooks.update(endpoint.data.webhook.id, { enabled: false });
  const log = await mailpass.webhooks.deliveries(endpoint.data.webhook.id, { status: 'failed' });
  const firstCode: number | null = log.data.deliveries[0]?.response_code ?? null;
  try {
    await mailpass.webhooks.test(endpoint.data.webhook.id);
  } catch (error) {
    if (error instanceof WebhookDisabledError) await mailpass.webhooks.update(endpoint.data.webhook.id, { enabled: true });
  }
  await mailpass.webhooks.rotateSecret(endpoint.data.webhook.id, 2);
  let event: WebhookEvent | null = null;
  try {
    event = await verifyWebhook('{"type":"webhook.test"}', { 'webhook-id': 'msg_1' }, secret);
  } catch (error) {
    if (!(error instanceof WebhookVerificationError)) throw error;
  }
  // @ts-expect-error: not an event type
  await mailpass.webhooks.create({ url: 'https://app.example.com/hooks', events: ['bounce'] });
  const added: Domain = (await mailpass.domains.create({ name: 'example.com', ed25519: true })).data.domain;
  await mailpass.domains.create('mail.example.com');
  const pages: number = (await mailpass.domains.list(2)).data.pages;
  await mailpass.domains.list({ page: 1 });
  const dkim = added.records.filter((record): record is DkimRecord => record.purpose === 'dkim');
  const selector: string = dkim[0].selector;
  const found: string | null = (await mailpass.domains.verify(added.id)).data.domain.records[0].found;
  const signing: boolean = (await mailpass.domains.get('example.com')).data.domain.signing;
  await mailpass.domains.rotate('example.com');
  await mailpass.domains.rotate(added.id, false, { signal: AbortSignal.timeout(5000) });
  const removed: number | undefined = (await mailpass.domains.delete(added.id)).data?.id;
  // @ts-expect-error: a domain's status is pending, verified or failed
  const unknownStatus: Domain['status'] = 'active';
  try {
    await mailpass.mail.send({ ...message, from_email: 'hello@unverified.example' });
  } catch (error) {
    if (error instanceof DomainNotVerifiedError) return String(error.details.domain);
  }
  const failedItem = (await mailpass.mail.sendBatch({ messages: [message] })).data.messages[0].error?.code;
  return `${id} ${queued} ${inline} ${size} ${names} ${versions} ${subject} ${due} ${movedTo} ${cancelled} ${usedTemplate} ${both} ${twoNames} ${firstCode} ${event?.type} ${pages} ${selector} ${found} ${signing} ${removed} ${unknownStatus} ${failedItem}`;
}
