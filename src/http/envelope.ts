import type { FastifyReply } from "fastify";
import { TagpulseError, type ErrorCode } from "../lib/errors.js";
import { errorSchema } from "./schemas.js";

/** The error envelope of the public contract: `code` is the HTTP status, `data` null. */
export function errorBody(code: ErrorCode, status: number, message: string, requestId: string, param?: string) {
  return { code: status, message, data: null, requestId, error: param === undefined ? { type: code } : { type: code, param } };
}

export function sendError(reply: FastifyReply, error: TagpulseError): FastifyReply {
  return reply.code(error.status).send(errorBody(error.code, error.status, error.message, String(reply.request.id), error.param));
}

/** The success envelope around a route's data. */
export function success<T>(requestId: string, data: T) {
  return { code: 0 as const, message: "success", data, requestId };
}

/** Every error status a route can answer, with the error envelope. */
export function errorResponses(...statuses: number[]) {
  return Object.fromEntries(statuses.map((status) => [status, errorSchema]));
}
