<?php

declare(strict_types=1);

namespace MailPass\Exception;

/**
 * No answer came back: the connection was refused, reset or dropped, the name did not
 * resolve, TLS failed... There is no error code or HTTP status, so this is not an
 * {@see ApiException}. The SDK retries these before it throws one.
 */
class NetworkException extends \RuntimeException implements MailPassException
{
}
