import { ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import { FailureType } from './failures';

/** Bad task configuration: retrying cannot help, so the failure is non-retryable. */
export function configError(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, FailureType.ConfigError);
}

/**
 * A task refused to act because a safety limit would be exceeded (e.g. max_fraction). BENIGN: the
 * limit doing its job, so the worker logs it at DEBUG and the SDK does not count it as a failed activity.
 */
export function safetyLimitError(message: string): ApplicationFailure {
  return ApplicationFailure.create({ message, type: FailureType.SafetyLimitExceeded, nonRetryable: true, category: ApplicationFailureCategory.BENIGN });
}

/**
 * The refusal for a run that would touch more than `max` of a table or directory, saying how to
 * allow it; undefined when within the limit. `subject` leads ("runs: would delete"), `what`
 * names the whole ("rows of app.runs").
 */
export function overFraction(subject: string, matching: number, total: number, what: string, max: number): string | undefined {
  if (total === 0 || matching / total <= max) return undefined;
  const share = matching / total;
  return (
    `${subject} ${matching} of ${total} ${what} (${Math.round(share * 100)}%), more than max_fraction ${max}; ` +
    `if that is intended, set max_fraction: ${Math.min(1, Math.ceil(share * 100) / 100)} (or higher) in this task's config`
  );
}
