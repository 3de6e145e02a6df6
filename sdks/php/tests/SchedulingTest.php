<?php

declare(strict_types=1);

namespace MailPass\Tests;

use MailPass\Exception\InvalidArgumentException;
use MailPass\Exception\MessageNotScheduledException;
use MailPass\Exception\NotFoundException;

/**
 * Scheduled sending and templates in mail: scheduled_at and template on send() and
 * sendBatch(), cancel() and reschedule(), as the echo fake receives them, and the
 * MESSAGE_NOT_SCHEDULED error.
 */
final class SchedulingTest extends TestCase
{
    private const ID = '<abc.123@mail.example.com>';
    private const ID_IN_PATH = '%3Cabc.123%40mail.example.com%3E';

    public function testSendTurnsADateTimeIntoIso8601WithItsOffset(): void
    {
        $at = new \DateTimeImmutable('2026-12-05 09:00:00', new \DateTimeZone('+01:00'));
        $sent = self::received(self::echo()->mail->send(
            ['to' => 'a@example.com', 'subject' => 'Later', 'text' => 'Hi.', 'scheduled_at' => $at]
        ));

        self::assertSame('POST', $sent['method']);
        self::assertSame('/api/v1/mail/send', $sent['uri']);
        self::assertSame('{"to":"a@example.com","subject":"Later","text":"Hi.",'
            . '"scheduled_at":"2026-12-05T09:00:00+01:00"}', $sent['raw_body']);
        self::assertNotNull($sent['idempotency_key']);
    }

    public function testEveryKindOfDateKeepsItsInstantAndOffset(): void
    {
        $client = self::echo();
        $cases = [
            'UTC' => [new \DateTimeImmutable('2026-12-05T08:00:00Z'), '2026-12-05T08:00:00+00:00'],
            'a named zone' => [
                new \DateTime('2026-07-01 10:30:00', new \DateTimeZone('Europe/Berlin')),
                '2026-07-01T10:30:00+02:00',
            ],
            'a fraction of a second' => [
                new \DateTimeImmutable('2026-12-05T08:00:00.250000-05:00'),
                '2026-12-05T08:00:00.250000-05:00',
            ],
            'a string, as given' => ['2026-12-05T08:00:00Z', '2026-12-05T08:00:00Z'],
            'a string without offset, for the server to refuse' => ['2026-12-05T08:00:00', '2026-12-05T08:00:00'],
        ];
        foreach ($cases as $case => [$given, $expected]) {
            $body = self::received($client->mail->send(['to' => 'a@example.com', 'template' => ['id' => 1],
                                                        'scheduled_at' => $given]))['body'];
            self::assertSame($expected, $body['scheduled_at'], $case);
            if ($given instanceof \DateTimeInterface) {
                self::assertEquals($given, new \DateTimeImmutable($body['scheduled_at']), $case);
            }
        }
    }

    public function testSendPassesATemplateThroughWithEmptyVariablesAsAnObject(): void
    {
        $client = self::echo();
        $template = [
            'alias' => 'order-shipped',
            'variables' => ['name' => 'Ada', 'order' => ['id' => 42], 'lines' => ['a', 'b'], 'empty' => []],
            'version' => 3,
        ];
        $sent = self::received($client->mail->send(['to' => 'a@example.com', 'template' => $template]));
        self::assertSame(['to' => 'a@example.com', 'template' => $template], $sent['body']);

        $none = self::received($client->mail->send(
            ['to' => 'a@example.com', 'template' => ['id' => 12, 'variables' => []], 'metadata' => []]
        ));
        self::assertSame(
            '{"to":"a@example.com","template":{"id":12,"variables":{}},"metadata":{}}',
            $none['raw_body']
        );
    }

    public function testABatchConvertsEachMessagesDateAndKeepsItsTemplate(): void
    {
        $at = new \DateTimeImmutable('2026-12-05T09:00:00+01:00');
        $sent = self::received(self::echo()->mail->sendBatch([
            'messages' => [
                ['to' => 'a@example.com', 'template' => ['alias' => 'welcome', 'variables' => []],
                 'scheduled_at' => $at],
                ['to' => 'b@example.com', 'subject' => 'Later', 'text' => 'Hi.',
                 'scheduled_at' => '2026-12-06T08:00:00Z'],
                ['to' => 'c@example.com', 'subject' => 'Now', 'text' => 'Hi.'],
            ],
            'from_email' => 'support@example.com',
        ]));

        self::assertSame('POST', $sent['method']);
        self::assertSame('/api/v1/mail/send-batch', $sent['uri']);
        self::assertNotNull($sent['idempotency_key']);
        self::assertSame(
            '{"messages":[{"to":"a@example.com","template":{"alias":"welcome","variables":{}},'
            . '"scheduled_at":"2026-12-05T09:00:00+01:00"},{"to":"b@example.com","subject":"Later",'
            . '"text":"Hi.","scheduled_at":"2026-12-06T08:00:00Z"},{"to":"c@example.com",'
            . '"subject":"Now","text":"Hi."}],"from_email":"support@example.com"}',
            $sent['raw_body']
        );
    }

    public function testCancelPostsNothingToTheEncodedIdsCancelPath(): void
    {
        $client = self::echo();
        foreach ([self::ID => self::ID_IN_PATH, 'abc.123@mail.example.com' => 'abc.123%40mail.example.com',
                  'odd/id x@host' => 'odd%2Fid%20x%40host'] as $id => $inPath) {
            $sent = self::received($client->mail->cancel($id));
            self::assertSame('POST', $sent['method']);
            self::assertSame("/api/v1/mail/$inPath/cancel", $sent['uri']);
            self::assertSame('', $sent['raw_body']);
            self::assertNull($sent['content_type']);
            self::assertNull($sent['idempotency_key']);
        }
    }

    public function testReschedulePatchesTheMessageWithTheNewTime(): void
    {
        $client = self::echo();
        $at = new \DateTimeImmutable('2026-12-05T09:00:00', new \DateTimeZone('Asia/Tokyo'));
        $sent = self::received($client->mail->reschedule(self::ID, $at));
        self::assertSame('PATCH', $sent['method']);
        self::assertSame('/api/v1/mail/' . self::ID_IN_PATH, $sent['uri']);
        self::assertSame('application/json', $sent['content_type']);
        self::assertSame('{"scheduled_at":"2026-12-05T09:00:00+09:00"}', $sent['raw_body']);
        self::assertNull($sent['idempotency_key']);

        $string = self::received($client->mail->reschedule(self::ID, '2026-12-05T08:00:00Z'));
        self::assertSame(['scheduled_at' => '2026-12-05T08:00:00Z'], $string['body']);
    }

    public function testAnEmptyIdIsRefusedBeforeAnyRequest(): void
    {
        $client = self::echo();
        self::throws(InvalidArgumentException::class, fn () => $client->mail->cancel(''));
        self::throws(InvalidArgumentException::class, fn () => $client->mail->reschedule(' ', '2026-12-05T08:00:00Z'));
    }

    public function testMessageNotScheduledIsItsOwnExceptionForCancelAndReschedule(): void
    {
        $client = self::echo('error-MESSAGE_NOT_SCHEDULED');
        $calls = [
            'cancel' => fn () => $client->mail->cancel(self::ID),
            'reschedule' => fn () => $client->mail->reschedule(self::ID, new \DateTimeImmutable('+1 hour')),
        ];
        foreach ($calls as $call) {
            $error = self::throws(MessageNotScheduledException::class, $call);
            self::assertApiError($error, MessageNotScheduledException::class, 'MESSAGE_NOT_SCHEDULED', 409);
            self::assertSame('<sent.1@fake.test>', $error->getMessageId());
            self::assertSame('sent', $error->getDetails()['status']);
        }
    }

    public function testAnUnknownMessageIsNotFound(): void
    {
        $error = self::throws(NotFoundException::class, fn () => self::echo('error-NOT_FOUND')->mail->cancel(self::ID));
        self::assertApiError($error, NotFoundException::class, 'NOT_FOUND', 404);
    }
}
