<?php

declare(strict_types=1);

namespace MailPass\Exception;

/**
 * NO_SMTP_PROVIDER (422): the account has no default SMTP provider.
 */
class NoSmtpProviderException extends ApiException
{
}
