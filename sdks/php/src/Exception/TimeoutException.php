<?php

declare(strict_types=1);

namespace MailPass\Exception;

/**
 * The request took longer than the client's `timeout` option.
 */
class TimeoutException extends NetworkException
{
}
