<?php

declare(strict_types=1);

namespace MailPass\Exception;

/**
 * DOMAIN_NOT_VERIFIED (422): the From address's domain is not a verified sender domain of
 * the account, and only verified domains may send here (the account's setting "Only send
 * from verified domains", the instance's rule, or a message that may go through the
 * operator's MailPass relay). details.domain names the domain; nothing was stored or sent.
 * Add and verify it with `$client->domains`, or send from a domain that is verified. In
 * sendBatch() the item fails with this code instead, and the others go on.
 */
class DomainNotVerifiedException extends ApiException
{
}
