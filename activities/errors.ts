import { ApplicationFailure } from '@temporalio/common';

/** Bad task configuration: retrying cannot help, so the failure is non-retryable. */
export function configError(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, 'ConfigError');
}

/** A task refused to act because a safety limit would be exceeded (e.g. max_fraction). */
export function safetyLimitError(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, 'SafetyLimitExceeded');
}
