/**
 * The one error model of tagpulse. Every failure the product reports has a code from this closed
 * list; the HTTP layer maps each code to one status and the CLI to one exit code.
 */
export const ERROR_CODES = {
  invalid_parameter: 400,
  invalid_input: 400,
  unauthorized: 401,
  insufficient_credits: 402,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  rate_limited: 429,
  internal: 500,
  no_data: 503,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class TagpulseError extends Error {
  readonly code: ErrorCode;
  /** The request parameter or input field at fault, when there is one. */
  readonly param: string | undefined;

  constructor(code: ErrorCode, message: string, options: { param?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "TagpulseError";
    this.code = code;
    this.param = options.param;
  }

  get status(): number {
    return ERROR_CODES[this.code];
  }
}

export function invalidParameter(param: string, message: string): TagpulseError {
  return new TagpulseError("invalid_parameter", message, { param });
}
