/** One thing `caretaker check` found about a task: an error fails the check, a warning is listed. */
export interface Finding {
  severity: 'error' | 'warning';
  message: string;
}

export const error = (message: string): Finding => ({ severity: 'error', message });
export const warning = (message: string): Finding => ({ severity: 'warning', message });
