// Calls to the hub's API with the person's token; every failure becomes a sentence a person
// understands, with what to do next.
import { accessToken, refresh } from "./session";
import { errorWords, t } from "./i18n";
import { ownSentence, withoutGrantId } from "./refusals";

export class ApiFailure extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    /** The dataset whose page offers the next step (asking for access), when refused one. */
    readonly dataset?: string,
  ) {
    super(message);
  }
}

export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const response = await call(path, init);
  return (response.status === 204 ? undefined : await response.json()) as T;
}

/** Sends `body` as JSON (`POST` unless `method` says otherwise); the answer as {@link api}. */
export function sendJson<T>(path: string, body: unknown, method = "POST"): Promise<T> {
  return api<T>(path, { method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

/** For actions asked twice (revoke, disable, reset): the first press arms the one named
 * `id`, and only a second press on the same one returns true. */
export function pressedTwice(armed: { value: string }, id: string): boolean {
  if (armed.value !== id) {
    armed.value = id;
    return false;
  }
  armed.value = "";
  return true;
}

/** The hub's answer to a call that succeeded, to read as it arrives (a query's stream, a
 * file); a failure is thrown as an {@link ApiFailure}. */
export async function call(path: string, init: RequestInit = {}): Promise<Response> {
  let response = await send(path, init);
  if (response.status === 401 && (await refresh())) response = await send(path, init);
  if (response.ok) return response;
  const body = await response.json().catch(() => ({}));
  const code: string = body?.error?.code ?? "";
  const message: string = body?.error?.message ?? `HTTP ${response.status}`;
  // A refusal whose particulars the console reads is its own sentence, in the person's language.
  const own = ownSentence(code, body?.error?.details);
  if (own) throw new ApiFailure(own.text, response.status, code, own.dataset);
  throw new ApiFailure(sentence(response.status, code, withoutGrantId(message)), response.status, code);
}

async function send(path: string, init: RequestInit): Promise<Response> {
  const token = await accessToken();
  const headers = new Headers(init.headers);
  if (token) headers.set("Authorization", `Bearer ${token}`);
  try {
    return await fetch(path, { ...init, headers });
  } catch {
    throw new ApiFailure(t("errorNetwork"), 0, "network");
  }
}

function sentence(status: number, code: string, hubMessage: string): string {
  // The hub writes English; in another language the code's meaning comes first.
  const words = errorWords(code);
  const message = words ? t("errorWithDetail", { words, message: hubMessage }) : hubMessage;
  // A quota reached is no busy hub: its message says which and until when.
  if (code.endsWith("quota_exceeded")) return t("errorQuota", { message });
  switch (status) {
    case 400:
    case 422:
      return t("errorRequest", { message });
    case 401:
      return t("sessionExpired");
    case 403:
      return t("errorForbidden", { message });
    case 404:
      return t("errorNotFound", { message });
    case 409:
      return t("errorConflict", { message });
    case 429:
    case 503:
      return t("errorBusy");
    default:
      return t("errorOther", { message });
  }
}

/** What a failed call says to a person: an {@link ApiFailure}'s sentence, else the error. */
export function failureText(error: unknown): string {
  return error instanceof ApiFailure ? error.message : String(error);
}

/** The dataset a refusal sends the person to, to ask for access there (`department.name`). */
export function refusedDataset(error: unknown): string {
  return error instanceof ApiFailure ? (error.dataset ?? "") : "";
}

/** A value of a result's cell as text: null as ∅, lists and records as JSON. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return "∅";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}
