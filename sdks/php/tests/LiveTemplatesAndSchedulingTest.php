<?php

declare(strict_types=1);

namespace MailPass\Tests;

use MailPass\Exception\ForbiddenException;
use MailPass\Exception\MessageNotScheduledException;
use MailPass\Exception\NotFoundException;
use MailPass\Exception\TemplateInUseException;
use MailPass\Exception\ValidationException;

/**
 * Templates and scheduled sending against the live server: a template's life from create to
 * delete, a message sent with it, one scheduled an hour ahead, moved, cancelled twice and
 * refused a move after that.
 *
 * Creating, changing and deleting templates needs the `templates` permission: the key in
 * MAILPASS_TEST_KEY_TEMPLATES has it (and `mail`); MAILPASS_TEST_KEY has `mail` only.
 */
final class LiveTemplatesAndSchedulingTest extends TestCase
{
    /** The subject tests/sdks/test_php_sdk.py looks for in the SMTP sink. */
    public const SENT_SUBJECT = 'Order PHP-16 shipped';

    private const UTC = '/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/';

    public function testATemplateFromCreateToDeleteWithAMessageSentAndOneScheduled(): void
    {
        $admin = self::live('MAILPASS_TEST_KEY_TEMPLATES');
        $client = self::live(); // `mail` only: sends, reads and renders templates
        $alias = 'php-sdk.order-shipped-' . bin2hex(random_bytes(4));

        // Create: version 1, the variables it uses, sorted.
        $created = $admin->templates->create([
            'name' => 'Order shipped (PHP SDK)',
            'alias' => $alias,
            'subject' => 'Order {{order_id}} on its way',
            'html' => '<p>Hi {{name}}</p><ul>{{#lines}}<li>{{.}}</li>{{/lines}}</ul>',
            'text' => 'Hi {{name}}',
            'defaults' => ['name' => 'there'],
        ]);
        self::assertTrue($created['success']);
        $template = $created['data']['template'];
        self::assertIsInt($template['id']);
        self::assertSame($alias, $template['alias']);
        self::assertSame(1, $template['version']);
        self::assertSame(['name', 'order_id'], $template['variables']); // not lines: a section is optional
        self::assertSame(['name' => 'there'], $template['defaults']);
        $id = $template['id'];

        $forbidden = self::throws(ForbiddenException::class, fn () => $client->templates->create(
            ['name' => 'Not allowed', 'alias' => $alias . '-x', 'subject' => 'x', 'text' => 'x']
        ));
        self::assertApiError($forbidden, ForbiddenException::class, 'FORBIDDEN', 403);
        $taken = self::throws(ValidationException::class, fn () => $admin->templates->create(
            ['name' => 'Same alias', 'alias' => $alias, 'subject' => 'x', 'text' => 'x']
        ));
        self::assertSame(['alias' => ['Already used by another template.']], $taken->getDetails());

        // Read it by alias and by id; it is in the list.
        self::assertSame($template, $client->templates->get($alias)['data']['template']);
        self::assertSame($alias, $client->templates->get($id)['data']['template']['alias']);
        self::assertContains($alias, array_column($client->templates->list(1)['data']['templates'], 'alias'));

        // Render: HTML-escaped in html, as-is in subject and text; defaults fill the gaps.
        $rendered = $client->templates->render($alias, ['order_id' => 'A<1>', 'lines' => ['Tea', 'Cups']]);
        self::assertSame('Order A<1> on its way', $rendered['data']['subject']);
        self::assertSame('<p>Hi there</p><ul><li>Tea</li><li>Cups</li></ul>', $rendered['data']['html']);
        self::assertSame('Hi there', $rendered['data']['text']);
        self::assertSame(1, $rendered['data']['version']);
        $escaped = $client->templates->render($id, ['order_id' => '1', 'name' => '<Ada & Bob>', 'lines' => []]);
        self::assertStringContainsString('Hi &lt;Ada &amp; Bob&gt;', $escaped['data']['html']);
        self::assertSame('Hi <Ada & Bob>', $escaped['data']['text']);
        $missing = self::throws(ValidationException::class, fn () => $client->templates->render($alias));
        self::assertApiError($missing, ValidationException::class, 'VALIDATION_ERROR', 400);
        self::assertSame(['variables' => ['Missing: order_id']], $missing->getDetails());

        // A new subject is version 2; version 1 stays readable and renderable.
        $updated = $admin->templates->update($alias, ['subject' => 'Order {{order_id}} shipped']);
        self::assertSame(2, $updated['data']['template']['version']);
        self::assertSame([2, 1], array_column($updated['data']['versions'], 'version'));
        $first = $client->templates->get($alias, 1)['data']['template'];
        self::assertSame([1, 'Order {{order_id}} on its way'], [$first['version'], $first['subject']]);
        $old = $client->templates->render($alias, ['order_id' => '7', 'lines' => []], 1);
        self::assertSame('Order 7 on its way', $old['data']['subject']);

        // Send with it, now; not with a subject too, nor without its variables.
        $both = self::throws(ValidationException::class, fn () => $client->mail->send(
            ['to' => self::address('both'), 'subject' => 'x', 'template' => ['alias' => $alias]]
        ));
        self::assertSame(
            ['template' => ['Give either template or subject/html/text, not both.']],
            $both->getDetails()
        );
        $short = self::throws(ValidationException::class, fn () => $client->mail->send(
            ['to' => self::address('short'), 'template' => ['id' => $id, 'variables' => []]]
        ));
        self::assertSame(['template' => ['variables' => ['Missing: order_id']]], $short->getDetails());
        $sent = $client->mail->send([
            'to' => self::address('template'),
            'template' => [
                'alias' => $alias,
                'variables' => ['order_id' => 'PHP-16', 'name' => 'Ada', 'lines' => ['Tea']],
            ],
        ]);
        self::assertSame('sent', $sent['data']['status']);
        self::assertArrayNotHasKey('scheduled_at', $sent['data']);
        $status = $client->mail->status($sent['data']['message_id'])['data']['message'];
        self::assertSame(self::SENT_SUBJECT, $status['subject']);
        self::assertSame(['id' => $id, 'alias' => $alias, 'version' => 2], $status['template']);
        self::assertNull($status['scheduled_at']);

        // Schedule one an hour ahead, with the template's version 1.
        $at = (new \DateTimeImmutable('@' . (time() + 3600)))->setTimezone(new \DateTimeZone('+05:30'));
        $scheduled = $client->mail->send([
            'to' => self::address('scheduled'),
            'template' => ['id' => $id, 'version' => 1, 'variables' => ['order_id' => 'LATER', 'lines' => []]],
            'scheduled_at' => $at,
        ]);
        self::assertSame('scheduled', $scheduled['data']['status']);
        self::assertSame(self::utc($at), $scheduled['data']['scheduled_at']);
        $messageId = $scheduled['data']['message_id'];
        $status = $client->mail->status($messageId)['data'];
        self::assertSame('scheduled', $status['message']['status']);
        self::assertSame(self::utc($at), $status['message']['scheduled_at']);
        self::assertSame(['id' => $id, 'alias' => $alias, 'version' => 1], $status['message']['template']);
        [$event] = $status['events'];
        self::assertSame('scheduled', $event['event_type']);
        self::assertStringContainsString(self::utc($at), $event['description']);

        // While it waits, its template cannot be deleted.
        $inUse = self::throws(TemplateInUseException::class, fn () => $admin->templates->delete($alias));
        self::assertApiError($inUse, TemplateInUseException::class, 'TEMPLATE_IN_USE', 409);
        self::assertSame(1, $inUse->getDetails()['scheduled']);

        // Reschedule it (twice the same time: the same answer), then cancel it (twice).
        $later = $at->modify('+1 hour');
        $moved = $client->mail->reschedule($messageId, $later);
        self::assertSame(
            ['message_id' => $messageId, 'status' => 'scheduled', 'scheduled_at' => self::utc($later)],
            $moved['data']
        );
        self::assertSame($moved, $client->mail->reschedule(trim($messageId, '<>'), self::utc($later)));
        $cancelled = $client->mail->cancel($messageId);
        self::assertSame(
            ['success' => true, 'data' => ['message_id' => $messageId, 'status' => 'cancelled']],
            $cancelled
        );
        self::assertSame($cancelled, $client->mail->cancel(trim($messageId, '<>')));

        // Cancelled is final: no more moves.
        $refused = self::throws(
            MessageNotScheduledException::class,
            fn () => $client->mail->reschedule($messageId, $later->modify('+1 hour'))
        );
        self::assertApiError($refused, MessageNotScheduledException::class, 'MESSAGE_NOT_SCHEDULED', 409);
        self::assertSame($messageId, $refused->getMessageId());
        self::assertSame('cancelled', $refused->getDetails()['status']);

        $status = $client->mail->status($messageId)['data'];
        self::assertSame('cancelled', $status['message']['status']);
        self::assertSame(self::utc($later), $status['message']['scheduled_at']);
        $types = array_column($status['events'], 'event_type');
        self::assertSame(2, count(array_keys($types, 'scheduled', true)), implode(', ', $types));
        self::assertContains('cancelled', $types);

        // Nothing waits on the template any more: it can go.
        $deleted = $admin->templates->delete($alias);
        self::assertSame(['id' => $id, 'alias' => $alias], $deleted['data']);
        $gone = self::throws(NotFoundException::class, fn () => $client->templates->get($id));
        self::assertApiError($gone, NotFoundException::class, 'NOT_FOUND', 404);
    }

    public function testASentMessageCannotBeCancelledNorRescheduled(): void
    {
        $client = self::live();
        $sent = $client->mail->send(['to' => self::address('sent-now'), 'subject' => 'Now', 'text' => 'Now.']);
        $messageId = $sent['data']['message_id'];

        $calls = [
            'cancel' => fn () => $client->mail->cancel($messageId),
            'reschedule' => fn () => $client->mail->reschedule($messageId, new \DateTimeImmutable('+1 hour')),
        ];
        foreach ($calls as $call) {
            $error = self::throws(MessageNotScheduledException::class, $call);
            self::assertApiError($error, MessageNotScheduledException::class, 'MESSAGE_NOT_SCHEDULED', 409);
            self::assertSame(['message_id' => $messageId, 'status' => 'sent'], $error->getDetails());
            self::assertStringContainsString('sent', $error->getMessage());
        }
        $unknown = self::throws(NotFoundException::class, fn () => $client->mail->cancel('<no-such.1@example.com>'));
        self::assertApiError($unknown, NotFoundException::class, 'NOT_FOUND', 404);
    }

    public function testABatchItemCanBeScheduledAndABadTimeIsAValidationError(): void
    {
        $client = self::live();
        $at = new \DateTimeImmutable('@' . (time() + 2 * 3600));
        $batch = $client->mail->sendBatch(['messages' => [
            ['to' => self::address('batch-later'), 'subject' => 'Later', 'text' => 'Later.', 'scheduled_at' => $at],
            ['to' => self::address('batch-now'), 'subject' => 'Now', 'text' => 'Now.'],
        ]]);
        self::assertSame([2, 2, 0], [$batch['data']['total'], $batch['data']['queued'], $batch['data']['failed']]);
        [$later, $now] = $batch['data']['messages'];
        self::assertSame('scheduled', $later['status']);
        self::assertSame(self::utc($at), $later['scheduled_at']);
        self::assertIsInt($later['queue_id']);
        self::assertSame('queued', $now['status']);
        self::assertArrayNotHasKey('scheduled_at', $now);
        self::assertSame('cancelled', $client->mail->cancel($later['message_id'])['data']['status']);

        $bad = [
            'Must include a time zone offset, e.g. +01:00 or Z.' => (new \DateTimeImmutable('+1 day'))
                ->format('Y-m-d\TH:i:s'),
            'Must not be in the past.' => new \DateTimeImmutable('-1 hour'),
            'At most 30 days ahead.' => new \DateTimeImmutable('+31 days'),
        ];
        foreach ($bad as $problem => $scheduledAt) {
            $error = self::throws(ValidationException::class, fn () => $client->mail->send(
                ['to' => self::address('bad-time'), 'subject' => 'x', 'text' => 'x', 'scheduled_at' => $scheduledAt]
            ));
            self::assertSame(['scheduled_at' => [$problem]], $error->getDetails());
        }
    }

    /** How the API writes $at: UTC, to the second, with a Z. */
    private static function utc(\DateTimeInterface $at): string
    {
        return \DateTimeImmutable::createFromInterface($at)
            ->setTimezone(new \DateTimeZone('UTC'))
            ->format('Y-m-d\TH:i:s\Z');
    }
}
