<?php

declare(strict_types=1);

namespace MailPass\Tests;

use MailPass\Attachment;
use MailPass\Exception\FileException;
use MailPass\Exception\MailPassException;

/**
 * MailPass\Attachment, and how attachments, headers and unsubscribe travel in a request
 * (through the retry fake, which records each body).
 */
final class AttachmentTest extends TestCase
{
    /** Every byte value, so nothing is lost between the file and the base64. */
    private const BINARY = "%PDF-1.4\n\x00\x01\x02\xfe\xff\r\n%%EOF\n";

    private string $dir = '';

    protected function setUp(): void
    {
        $this->dir = sys_get_temp_dir() . '/mailpass-php-' . bin2hex(random_bytes(6));
        mkdir($this->dir);
    }

    protected function tearDown(): void
    {
        foreach (glob($this->dir . '/*') ?: [] as $file) {
            unlink($file);
        }
        rmdir($this->dir);
    }

    public function testFromPathTakesTheNameFromThePathAndEncodesTheBytes(): void
    {
        $path = $this->dir . '/invoice-2024-017.pdf';
        file_put_contents($path, self::BINARY . implode('', array_map('chr', range(0, 255))));

        $attachment = Attachment::fromPath($path);

        self::assertSame(['filename', 'content'], array_keys($attachment));
        self::assertSame('invoice-2024-017.pdf', $attachment['filename']);
        self::assertSame(file_get_contents($path), base64_decode($attachment['content'], true));
        self::assertMatchesRegularExpression('#^[A-Za-z0-9+/]+={0,2}$#', $attachment['content']);
    }

    public function testFromPathWithATypeAndAContentIdForAnInlineImage(): void
    {
        $path = $this->dir . '/logo.png';
        file_put_contents($path, "\x89PNG\r\n\x1a\n");

        self::assertSame([
            'filename' => 'logo.png',
            'content' => base64_encode("\x89PNG\r\n\x1a\n"),
            'content_type' => 'image/png',
            'content_id' => 'logo',
        ], Attachment::fromPath($path, 'image/png', 'logo'));
    }

    public function testANonAsciiFileNameIsKeptWhole(): void
    {
        $path = $this->dir . '/Rechnung März – 2024.pdf';
        file_put_contents($path, self::BINARY);

        self::assertSame('Rechnung März – 2024.pdf', Attachment::fromPath($path)['filename']);
    }

    public function testAMissingFileIsAFileExceptionNamingThePath(): void
    {
        $path = $this->dir . '/no-such-invoice.pdf';
        $error = self::throws(FileException::class, fn () => Attachment::fromPath($path));

        self::assertInstanceOf(\RuntimeException::class, $error);
        self::assertInstanceOf(MailPassException::class, $error);
        self::assertStringContainsString($path, $error->getMessage());
        self::assertStringContainsString('No such file or directory', $error->getMessage());
    }

    public function testADirectoryIsAFileException(): void
    {
        $error = self::throws(FileException::class, fn () => Attachment::fromPath($this->dir));
        self::assertStringContainsString('directory', $error->getMessage());
    }

    public function testFromBytes(): void
    {
        self::assertSame(
            ['filename' => 'report.csv', 'content' => base64_encode("a,b\n1,2\n")],
            Attachment::fromBytes('report.csv', "a,b\n1,2\n")
        );
        self::assertSame(
            [
                'filename' => 'invoice.pdf',
                'content' => base64_encode(self::BINARY),
                'content_type' => 'application/pdf',
            ],
            Attachment::fromBytes('invoice.pdf', self::BINARY, 'application/pdf')
        );
        self::assertSame(
            ['filename' => 'x.gif', 'content' => 'R0lG', 'content_id' => 'x@example.com'],
            Attachment::fromBytes('x.gif', 'GIF', null, 'x@example.com')
        );
    }

    public function testAttachmentsHeadersAndUnsubscribeAreSentAsGiven(): void
    {
        $key = self::script('ok');
        $params = self::message() + [
            'html' => '<p><img src="cid:logo"></p>',
            'attachments' => [
                Attachment::fromBytes('invoice.pdf', self::BINARY, 'application/pdf'),
                Attachment::fromBytes('logo.png', "\x89PNG", 'image/png', 'logo'),
            ],
            'headers' => ['X-Campaign' => 'spring', 'In-Reply-To' => '<a.1@example.com>'],
            'unsubscribe' => true,
        ];
        self::fake($key)->mail->send($params);

        [$send] = self::attempts($key);
        self::assertSame($params, json_decode($send['body'], true));
        self::assertStringContainsString('"headers":{"X-Campaign":"spring"', $send['body']);
        self::assertStringContainsString('"unsubscribe":true', $send['body']);
        self::assertStringContainsString('"attachments":[{"filename":"invoice.pdf"', $send['body']);
    }

    public function testEmptyHeadersAreSentAsAnObjectInASendAndInEachBatchItem(): void
    {
        $key = self::script('ok');
        $client = self::fake($key);
        $client->mail->send(self::message() + ['headers' => [], 'attachments' => []]);
        $client->mail->sendBatch(['messages' => [
            self::message() + ['headers' => []],
            self::message() + ['headers' => [], 'metadata' => []],
            self::message(),
        ]]);

        [$send, $batch] = self::attempts($key);
        self::assertStringContainsString('"headers":{}', $send['body']);
        self::assertStringContainsString('"attachments":[]', $send['body']);
        self::assertSame(2, substr_count($batch['body'], '"headers":{}'));
        self::assertSame(1, substr_count($batch['body'], '"metadata":{}'));
        self::assertSame(2, substr_count($batch['body'], 'headers'));
    }

    /** @return array<string, string> */
    private static function message(): array
    {
        return ['to' => 'attach@example.com', 'subject' => 'Attachments', 'text' => 'Hello.'];
    }
}
