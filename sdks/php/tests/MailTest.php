<?php

declare(strict_types=1);

namespace MailPass\Tests;

use MailPass\Attachment;
use MailPass\Exception\IdempotencyConflictException;
use MailPass\Exception\NotFoundException;
use MailPass\Exception\ValidationException;
use MailPass\Internal\Transport;

/**
 * /send, /send-batch and /status against the live server.
 */
final class MailTest extends TestCase
{
    private const MESSAGE_ID = '/^<[^<>\s]+@[^<>\s]+>$/';

    /** A 1×1 PNG, for the inline image. */
    private const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9aw'
        . 'AAAABJRU5ErkJggg==';

    public function testSendWithEveryFieldThenItsStatusWithAndWithoutBrackets(): void
    {
        $client = self::live();
        $to = self::address('every-field');
        $result = $client->mail->send([
            'to' => $to,
            'subject' => 'Every field — ünïcode too',
            'html' => '<h1>Hello</h1><p>From the PHP SDK.</p>',
            'text' => "Hello\nFrom the PHP SDK.",
            'from_email' => 'support@sdk.example.com',
            'from_name' => 'PHP SDK',
            'reply_to' => 'reply@sdk.example.com',
            'cc' => [self::address('cc')],
            'bcc' => [self::address('bcc')],
            'tags' => ['sdk', 'php'],
            'metadata' => ['order_id' => '12345', 'attempt' => 1, 'ratio' => 0.5, 'vip' => true, 'note' => null],
            'track_opens' => false,
            'track_clicks' => false,
        ]);

        self::assertTrue($result['success']);
        $data = $result['data'];
        self::assertSame('sent', $data['status']);
        self::assertSame($to, $data['to']);
        self::assertSame('support@sdk.example.com', $data['from']);
        self::assertMatchesRegularExpression(self::MESSAGE_ID, $data['message_id']);

        $id = $data['message_id'];
        foreach ([$id, trim($id, '<>')] as $form) {
            $status = $client->mail->status($form);
            self::assertTrue($status['success']);
            self::assertSame($id, $status['data']['message']['message_id']);
            self::assertSame('sent', $status['data']['message']['status']);
            self::assertSame($to, $status['data']['message']['to_email']);
            self::assertSame('Every field — ünïcode too', $status['data']['message']['subject']);
            self::assertIsArray($status['data']['events']);
            self::assertArrayHasKey('events_next', $status['data']);
        }
    }

    public function testAnInvoiceAnInlineLogoAHeaderAndUnsubscribeThenTheStatusListsTheFiles(): void
    {
        $dir = sys_get_temp_dir() . '/mailpass-php-' . bin2hex(random_bytes(6));
        mkdir($dir);
        $pdf = "%PDF-1.4\n% invoice 2024-017\n" . random_bytes(2048) . "\n%%EOF\n";
        file_put_contents("$dir/invoice-2024-017.pdf", $pdf);
        try {
            $invoice = Attachment::fromPath("$dir/invoice-2024-017.pdf");
        } finally {
            unlink("$dir/invoice-2024-017.pdf");
            rmdir($dir);
        }
        $png = (string) base64_decode(self::PNG, true);

        $client = self::live();
        $result = $client->mail->send([
            'to' => self::address('attachments'),
            'subject' => 'Your invoice 2024-017',
            'html' => '<p><img src="cid:logo" alt="Logo"></p><p>Your invoice is attached.</p>',
            'attachments' => [$invoice, Attachment::fromBytes('logo.png', $png, 'image/png', 'logo')],
            'headers' => ['X-Invoice-Id' => '2024-017'],
            'unsubscribe' => true,
        ]);
        self::assertSame('sent', $result['data']['status']);

        $status = $client->mail->status($result['data']['message_id']);
        self::assertSame([
            [
                'filename' => 'invoice-2024-017.pdf',
                'content_type' => 'application/pdf', // guessed by the server from the name
                'size' => strlen($pdf),
                'content_id' => null,
            ],
            ['filename' => 'logo.png', 'content_type' => 'image/png', 'size' => strlen($png), 'content_id' => 'logo'],
        ], $status['data']['message']['attachments']);

        $plain = $client->mail->status($client->mail->send(
            ['to' => self::address('no-attachments'), 'subject' => 'Plain', 'text' => 'No files.', 'headers' => []]
        )['data']['message_id']);
        self::assertSame([], $plain['data']['message']['attachments']);
    }

    public function testAnExeAttachmentIsAValidationErrorAboutAttachments(): void
    {
        $error = self::throws(ValidationException::class, fn () => self::live()->mail->send([
            'to' => self::address('exe'),
            'subject' => 'A program',
            'text' => 'Run me.',
            'attachments' => [Attachment::fromBytes('setup.exe', "MZ\x90\x00")],
        ]));
        self::assertApiError($error, ValidationException::class, 'VALIDATION_ERROR', 400);
        $details = $error->getDetails();
        self::assertSame(['attachments'], array_keys($details));
        self::assertArrayHasKey('filename', $details['attachments'][0]);
    }

    public function testABatchWithOneBadMessageQueuesTheOthers(): void
    {
        $client = self::live();
        $good = self::address('batch-good');
        $result = $client->mail->sendBatch([
            'messages' => [
                ['to' => $good, 'subject' => 'Hello A', 'html' => '<p>Hi A</p>', 'tags' => ['batch']],
                ['to' => 'not-an-address', 'subject' => 'Hello B', 'html' => '<p>Hi B</p>'],
            ],
            'from_email' => 'support@sdk.example.com',
            'from_name' => 'PHP SDK',
        ]);

        self::assertTrue($result['success']);
        $data = $result['data'];
        self::assertSame([2, 1, 1], [$data['total'], $data['queued'], $data['failed']]);
        [$queued, $failed] = $data['messages'];
        self::assertSame($good, $queued['to']);
        self::assertSame('queued', $queued['status']);
        self::assertIsInt($queued['queue_id']);
        self::assertMatchesRegularExpression(self::MESSAGE_ID, $queued['message_id']);
        self::assertSame('not-an-address', $failed['to']);
        self::assertSame('failed', $failed['status']);
        self::assertSame('VALIDATION_ERROR', $failed['error']['code']);
        self::assertArrayHasKey('to', $failed['error']['details']);

        $status = $client->mail->status($queued['message_id']);
        self::assertSame('queued', $status['data']['message']['status']);
    }

    public function testTheSameIdempotencyKeySendsOnceAndAnswersTheSame(): void
    {
        $client = self::live();
        $key = Transport::uuid4();
        $params = ['to' => self::address('idempotent'), 'subject' => 'Once', 'text' => 'Only once.'];

        $first = $client->mail->send($params, ['idempotency_key' => $key]);
        $again = $client->mail->send($params, ['idempotency_key' => $key]);

        self::assertSame('sent', $first['data']['status']);
        self::assertSame($first, $again);
    }

    public function testTheSameIdempotencyKeyWithAnotherBodyIsAConflict(): void
    {
        $client = self::live();
        $key = 'php-sdk-conflict-' . bin2hex(random_bytes(6));
        $client->mail->send(
            ['to' => self::address('conflict'), 'subject' => 'First', 'text' => 'First.'],
            ['idempotency_key' => $key]
        );

        $error = self::throws(IdempotencyConflictException::class, fn () => $client->mail->send(
            ['to' => self::address('conflict'), 'subject' => 'Second', 'text' => 'Second.'],
            ['idempotency_key' => $key]
        ));
        self::assertApiError($error, IdempotencyConflictException::class, 'IDEMPOTENCY_CONFLICT', 409);
    }

    public function testTheStatusOfAnUnknownIdIsNotFound(): void
    {
        $error = self::throws(
            NotFoundException::class,
            fn () => self::live()->mail->status('<no-such-message.1@example.com>')
        );
        self::assertApiError($error, NotFoundException::class, 'NOT_FOUND', 404);
        self::assertNull($error->getMessageId());
    }
}
