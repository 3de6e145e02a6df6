<?php

declare(strict_types=1);

namespace MailPass\Tests;

use MailPass\Client;
use MailPass\Exception\ApiException;
use MailPass\Exception\ForbiddenException;
use MailPass\Exception\InternalErrorException;
use MailPass\Exception\NoSmtpProviderException;
use MailPass\Exception\PayloadTooLargeException;
use MailPass\Exception\RateLimitedException;
use MailPass\Exception\SendFailedException;
use MailPass\Exception\SendLimitExceededException;
use MailPass\Exception\UnauthorizedException;
use MailPass\Exception\UnavailableException;
use MailPass\Exception\ValidationException;

/**
 * Every documented error code, mapped to its class: live where the server can produce it,
 * through the retry fake for the others.
 */
final class ErrorsTest extends TestCase
{
    /** @return array<string, string> */
    private static function message(string $name): array
    {
        return ['to' => self::address($name), 'subject' => 'Error test', 'text' => 'Hello.'];
    }

    public function testValidationError(): void
    {
        $error = self::throws(
            ValidationException::class,
            fn () => self::live()->mail->send(['to' => 'nope', 'subject' => 'x', 'form_email' => 'a@example.com'])
        );
        self::assertApiError($error, ValidationException::class, 'VALIDATION_ERROR', 400);
        self::assertArrayHasKey('form_email', $error->getDetails());
    }

    public function testUnauthorizedWithAnUnknownKey(): void
    {
        $key = 'mp_live_' . bin2hex(random_bytes(16));
        $client = new Client($key, self::FAST + ['base_url' => self::env('MAILPASS_BASE_URL')]);
        $error = self::throws(UnauthorizedException::class, fn () => $client->mail->send(self::message('unauth')));
        self::assertApiError($error, UnauthorizedException::class, 'UNAUTHORIZED', 401);
        self::assertStringNotContainsString($key, $error->getMessage());
        self::assertStringNotContainsString($key, (string) $error);
    }

    public function testForbiddenWithoutTheMailPermission(): void
    {
        $error = self::throws(
            ForbiddenException::class,
            fn () => self::live('MAILPASS_TEST_KEY_NO_MAIL')->mail->send(self::message('forbidden'))
        );
        self::assertApiError($error, ForbiddenException::class, 'FORBIDDEN', 403);
    }

    public function testPayloadTooLarge(): void
    {
        $error = self::throws(PayloadTooLargeException::class, fn () => self::live()->mail->send([
            'to' => self::address('large'),
            'subject' => 'Too large',
            'html' => str_repeat('x', 10 * 1024 * 1024 + 1),
        ]));
        self::assertApiError($error, PayloadTooLargeException::class, 'PAYLOAD_TOO_LARGE', 413);
    }

    public function testNoSmtpProvider(): void
    {
        $error = self::throws(
            NoSmtpProviderException::class,
            fn () => self::live('MAILPASS_TEST_KEY_NO_PROVIDER')->mail->send(self::message('no-provider'))
        );
        self::assertApiError($error, NoSmtpProviderException::class, 'NO_SMTP_PROVIDER', 422);
    }

    public function testSendFailedCarriesTheMessageId(): void
    {
        $client = self::live('MAILPASS_TEST_KEY_FAILING');
        $error = self::throws(SendFailedException::class, fn () => $client->mail->send(self::message('failing')));
        self::assertApiError($error, SendFailedException::class, 'SEND_FAILED', 500);
        $messageId = $error->getMessageId();
        self::assertNotNull($messageId);
        self::assertSame($messageId, $error->getDetails()['message_id']);
        self::assertNotSame('', $error->getDetails()['provider_error']);
        self::assertSame('failed', $client->mail->status($messageId)['data']['message']['status']);
    }

    public function testSendLimitExceededByTheAccountQuota(): void
    {
        $client = self::live('MAILPASS_TEST_KEY_QUOTA');
        $error = self::throws(SendLimitExceededException::class, fn () => $client->mail->send(
            self::message('quota') + ['cc' => [self::address('quota-cc')]]
        ));
        self::assertApiError($error, SendLimitExceededException::class, 'SEND_LIMIT_EXCEEDED', 429);
        self::assertSame('account', $error->getDetails()['scope']);
        self::assertIsInt($error->getRetryAfter());
        self::assertGreaterThan(0, $error->getRetryAfter());
        self::assertNull($error->getMessageId());
    }

    public function testRateLimitedThroughTheFake(): void
    {
        $key = self::script('r429-1');
        $error = self::throws(
            RateLimitedException::class,
            fn () => self::fake($key, ['max_retries' => 0])->mail->send(self::message('rate'))
        );
        self::assertApiError($error, RateLimitedException::class, 'RATE_LIMITED', 429);
        self::assertSame(1, $error->getRetryAfter());
        self::assertSame(['retry_after' => 1], $error->getDetails());
    }

    public function testInternalErrorThroughTheFake(): void
    {
        $error = self::throws(
            InternalErrorException::class,
            fn () => self::fake(self::script('e500'), ['max_retries' => 0])->mail->status('x@y')
        );
        self::assertApiError($error, InternalErrorException::class, 'INTERNAL_ERROR', 500);
    }

    public function testUnavailableThroughTheFake(): void
    {
        $error = self::throws(
            UnavailableException::class,
            fn () => self::fake(self::script('e503'), ['max_retries' => 0])->suppressions->list()
        );
        self::assertApiError($error, UnavailableException::class, 'UNAVAILABLE', 503);
    }

    public function testAnHtmlPageIsAnUnexpectedResponse(): void
    {
        $key = self::script('e502html');
        $error = self::throws(
            ApiException::class,
            fn () => self::fake($key, ['max_retries' => 0])->mail->send(self::message('html'))
        );
        self::assertApiError($error, ApiException::class, 'UNEXPECTED_RESPONSE', 502);
        self::assertStringContainsString('502 Bad Gateway', $error->getMessage());
        self::assertStringContainsString('text/html', $error->getMessage());
        self::assertSame([], $error->getDetails());
        self::assertCount(1, self::attempts($key));
    }
}
