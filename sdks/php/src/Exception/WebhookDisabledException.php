<?php

declare(strict_types=1);

namespace MailPass\Exception;

/**
 * WEBHOOK_DISABLED (409): the webhook endpoint is turned off, by a person
 * (`disabled_reason` "manual") or by MailPass after days of failed deliveries ("failing"),
 * so no test event can be sent to it and no delivery retried. Turn it back on with
 * `$client->webhooks->update($id, ['enabled' => true])` and try again.
 */
class WebhookDisabledException extends ApiException
{
}
