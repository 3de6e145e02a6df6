<?php

declare(strict_types=1);

namespace MailPass\Tests;

use MailPass\Client;
use MailPass\Exception\ApiException;
use MailPass\Exception\InternalErrorException;
use MailPass\Exception\NetworkException;
use MailPass\Exception\RateLimitedException;
use MailPass\Exception\SendFailedException;
use MailPass\Exception\SendLimitExceededException;
use MailPass\Exception\TimeoutException;
use MailPass\Exception\UnavailableException;
use MailPass\Exception\ValidationException;

/**
 * Retries, backoff, Retry-After and the Idempotency-Key, against the retry fake; and what
 * each request looks like on the wire.
 */
final class RetryTest extends TestCase
{
    private const UUID4 = '/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/';

    /** @return array<string, string> */
    private static function message(): array
    {
        return ['to' => 'retry@example.com', 'subject' => 'Retry', 'text' => 'Hello.'];
    }

    /**
     * @param list<array{headers: array<string, string>}> $attempts
     *
     * @return list<string|null>
     */
    private static function idempotencyKeys(array $attempts): array
    {
        return array_map(fn (array $attempt) => $attempt['headers']['idempotency-key'] ?? null, $attempts);
    }

    public function testADroppedConnectionIsRetriedWithTheSameIdempotencyKey(): void
    {
        $key = self::script('drop.ok');
        $result = self::fake($key)->mail->send(self::message());

        self::assertSame(['success' => true, 'data' => [
            'attempt' => 1, 'message_id' => '<fake.1@fake.test>', 'status' => 'sent',
        ]], $result);
        $attempts = self::attempts($key);
        self::assertCount(2, $attempts);
        [$first, $second] = self::idempotencyKeys($attempts);
        self::assertMatchesRegularExpression(self::UUID4, (string) $first);
        self::assertSame($first, $second);
        self::assertSame($attempts[0]['body'], $attempts[1]['body']);
    }

    public function testEachCallHasItsOwnIdempotencyKey(): void
    {
        $key = self::script('ok');
        $client = self::fake($key);
        $client->mail->send(self::message());
        $client->mail->sendBatch(['messages' => [self::message()]]);
        [$first, $second] = self::idempotencyKeys(self::attempts($key));
        self::assertMatchesRegularExpression(self::UUID4, (string) $second);
        self::assertNotSame($first, $second);
    }

    public function testACallersIdempotencyKeyIsTheOneSentOnEveryAttempt(): void
    {
        $key = self::script('drop.e503.ok');
        $mine = 'order-42-' . bin2hex(random_bytes(4));
        $result = self::fake($key)->mail->sendBatch(
            ['messages' => [self::message()]],
            ['idempotency_key' => $mine]
        );
        self::assertSame(2, $result['data']['attempt']);
        self::assertSame([$mine, $mine, $mine], self::idempotencyKeys(self::attempts($key)));
    }

    public function testRetryAfterIsWaitedFor(): void
    {
        $key = self::script('r429-1.ok');
        $result = self::fake($key)->mail->send(self::message());
        self::assertSame(1, $result['data']['attempt']);
        $attempts = self::attempts($key);
        self::assertCount(2, $attempts);
        self::assertGreaterThanOrEqual(1.0, $attempts[1]['at'] - $attempts[0]['at']);
    }

    public function testServerErrorsAreRetried(): void
    {
        foreach (['e503.ok', 'e500.ok', 'e502html.ok'] as $steps) {
            $key = self::script($steps);
            self::assertSame(1, self::fake($key)->mail->send(self::message())['data']['attempt'], $steps);
            self::assertCount(2, self::attempts($key), $steps);
        }
    }

    public function testSendFailedAndClientErrorsAreNeverRetried(): void
    {
        $failed = self::script('failed.ok');
        $error = self::throws(SendFailedException::class, fn () => self::fake($failed)->mail->send(self::message()));
        self::assertSame('<failed@fake.test>', $error->getMessageId());
        self::assertSame('550 refused', $error->getDetails()['provider_error']);
        self::assertCount(1, self::attempts($failed));

        $invalid = self::script('invalid.ok');
        $error = self::throws(ValidationException::class, fn () => self::fake($invalid)->mail->send(self::message()));
        self::assertSame(['to' => ['Enter a valid email address.']], $error->getDetails());
        self::assertCount(1, self::attempts($invalid));
    }

    public function testSendLimitIsRetriedOnlyWhenAskedTo(): void
    {
        $default = self::script('q429-1.ok');
        $error = self::throws(
            SendLimitExceededException::class,
            fn () => self::fake($default)->mail->send(self::message())
        );
        self::assertSame(1, $error->getRetryAfter());
        self::assertSame('provider', $error->getDetails()['scope']);
        self::assertCount(1, self::attempts($default));

        $opted = self::script('q429-1.ok');
        $result = self::fake($opted, ['retry_on_send_limit' => true])->mail->send(self::message());
        self::assertSame(1, $result['data']['attempt']);
        $attempts = self::attempts($opted);
        self::assertCount(2, $attempts);
        self::assertGreaterThanOrEqual(1.0, $attempts[1]['at'] - $attempts[0]['at']);
    }

    public function testMaxRetriesZeroMakesOneAttempt(): void
    {
        $key = self::script('e503.ok');
        $client = self::fake($key, ['max_retries' => 0]);
        self::throws(UnavailableException::class, fn () => $client->mail->send(self::message()));
        self::assertCount(1, self::attempts($key));
    }

    public function testARetryAfterAboveAMinuteIsNotWaitedFor(): void
    {
        $key = self::script('r429-120.ok');
        $started = microtime(true);
        $error = self::throws(RateLimitedException::class, fn () => self::fake($key)->mail->send(self::message()));
        self::assertSame(120, $error->getRetryAfter());
        self::assertLessThan(5.0, microtime(true) - $started);
        self::assertCount(1, self::attempts($key));
    }

    public function testWhenRetriesRunOutTheLastErrorIsThrown(): void
    {
        $key = self::script('e503.e503.e500');
        $error = self::throws(InternalErrorException::class, fn () => self::fake($key)->mail->send(self::message()));
        self::assertSame('INTERNAL_ERROR', $error->getErrorCode());
        self::assertCount(3, self::attempts($key));

        $more = self::script('e502html');
        $client = self::fake($more, ['max_retries' => 3]);
        $error = self::throws(ApiException::class, fn () => $client->mail->status('a@b'));
        self::assertSame('UNEXPECTED_RESPONSE', $error->getErrorCode());
        self::assertCount(4, self::attempts($more));

        $dropped = self::script('drop');
        $error = self::throws(NetworkException::class, fn () => self::fake($dropped)->mail->send(self::message()));
        self::assertNotInstanceOf(ApiException::class, $error);
        self::assertCount(3, self::attempts($dropped));
    }

    public function testATimeoutIsItsOwnError(): void
    {
        $key = self::script('sleep-3');
        $started = microtime(true);
        $error = self::throws(
            TimeoutException::class,
            fn () => self::fake($key, ['timeout' => 1, 'max_retries' => 0])->mail->send(self::message())
        );
        self::assertInstanceOf(NetworkException::class, $error);
        self::assertLessThan(2.5, microtime(true) - $started);
        self::assertStringContainsString('1 s', $error->getMessage());
        self::assertCount(1, self::attempts($key));
    }

    public function testReadsAndDeletesAreRetriedToo(): void
    {
        $status = self::script('drop.ok');
        self::assertSame(1, self::fake($status)->mail->status('<a@b>')['data']['attempt']);
        $list = self::script('e503.ok');
        self::assertSame(1, self::fake($list)->suppressions->list()['data']['attempt']);
        $remove = self::script('r429-1.ok');
        self::assertSame(1, self::fake($remove)->suppressions->remove('a@example.com')['data']['attempt']);
        foreach ([$status, $list, $remove] as $key) {
            self::assertCount(2, self::attempts($key));
        }
    }

    public function testWhatEachRequestLooksLike(): void
    {
        $key = self::script('ok');
        $client = self::fake($key);
        $sent = ['to' => 'a@example.com', 'subject' => 'Hé/llo', 'text' => 'x', 'metadata' => ['n' => 1.0]];
        $client->mail->send($sent);
        $client->mail->sendBatch(['messages' => [self::message()], 'from_email' => 'b@example.com']);
        $client->mail->status('<abc/1+2@host.example>');
        $client->mail->status('abc.1@host.example', ['events_after' => '17']);
        $client->suppressions->list(['email' => 'a+b@example.com', 'page' => 2]);
        $client->suppressions->add(['email' => 'c@example.com', 'reason' => 'manual']);
        $client->suppressions->remove('a/b+c@example.com');

        $attempts = self::attempts($key);
        self::assertSame([
            ['POST', '/api/v1/mail/send'],
            ['POST', '/api/v1/mail/send-batch'],
            ['GET', '/api/v1/mail/status/%3Cabc%2F1%2B2%40host.example%3E'],
            ['GET', '/api/v1/mail/status/abc.1%40host.example?events_after=17'],
            ['GET', '/api/v1/suppressions?email=a%2Bb%40example.com&page=2'],
            ['POST', '/api/v1/suppressions'],
            ['DELETE', '/api/v1/suppressions/a%2Fb%2Bc%40example.com'],
        ], array_map(fn (array $a) => [$a['method'], $a['path']], $attempts));

        foreach ($attempts as $attempt) {
            $headers = $attempt['headers'];
            self::assertSame("Bearer $key", $headers['authorization']);
            self::assertSame('application/json', $headers['accept']);
            self::assertStringStartsWith('mailpass-php/0.1.0', $headers['user-agent']);
            $hasBody = $attempt['method'] === 'POST';
            self::assertSame($hasBody ? 'application/json' : null, $headers['content-type'] ?? null);
            $isSend = str_starts_with($attempt['path'], '/api/v1/mail/send');
            self::assertSame($isSend, isset($headers['idempotency-key']), $attempt['path']);
        }
        self::assertSame($sent, json_decode($attempts[0]['body'], true));
        self::assertStringContainsString('"n":1.0', $attempts[0]['body']);
        self::assertSame(['email' => 'c@example.com', 'reason' => 'manual'], json_decode($attempts[5]['body'], true));
    }

    public function testAnEmptyMetadataArrayIsSentAsAnObject(): void
    {
        $key = self::script('ok');
        $client = self::fake($key);
        $client->mail->send(self::message() + ['metadata' => []]);
        $client->mail->sendBatch(['messages' => [self::message() + ['metadata' => []], self::message()]]);
        [$send, $batch] = self::attempts($key);
        self::assertStringContainsString('"metadata":{}', $send['body']);
        self::assertStringContainsString('"metadata":{}', $batch['body']);
        self::assertSame(1, substr_count($batch['body'], 'metadata'));
    }

    public function testAClientOfTheFakeNeedsNoEnvironmentBaseUrl(): void
    {
        $client = new Client(self::script('ok'), ['base_url' => self::env('MAILPASS_FAKE_URL') . '/']);
        self::assertSame(0, $client->suppressions->list()['data']['attempt']);
    }
}
