/**
 * An error caused by the user's input (flags, files, models). The CLI prints its message as one line and
 * exits non-zero without a stack trace; any other error is a bug and keeps its stack.
 */
export class UsageError extends Error {
  override readonly name = "UsageError";
}
