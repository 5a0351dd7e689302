// The audit log as it is written (`GET /v1/audit/stream`): server-sent events, read with
// fetch because EventSource cannot send the bearer token. The hub checks the token again
// every few seconds and ends the stream when it no longer admits the reader; the stream is
// then opened again with the token as refreshed, and a reader whose sign-in has ended, or
// who may no longer read the log, is told so and not retried.
import { ApiFailure, call } from "./api";

/** One server-sent event: its name (`record`, `lagged`, `end`) and its data. */
export interface ServerEvent {
  event: string;
  data: string;
}

/** Reads the events of `path` until the stream ends or `signal` aborts. */
async function readEvents(path: string, signal: AbortSignal, onEvent: (event: ServerEvent) => void): Promise<void> {
  const response = await call(path, { signal, headers: { Accept: "text/event-stream" } });
  const reader = response.body?.getReader();
  if (!reader) return;
  const decoder = new TextDecoder();
  let pending = "";
  let name = "message";
  let data: string[] = [];
  // The format of the HTML standard's server-sent events: fields by line, an event ends
  // at a blank line, lines starting with ':' are comments (the hub's keep-alives).
  const take = (line: string): void => {
    if (line === "") {
      if (data.length > 0) onEvent({ event: name, data: data.join("\n") });
      name = "message";
      data = [];
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
  };
  for (;;) {
    const chunk = await reader.read();
    if (chunk.done) return;
    pending += decoder.decode(chunk.value, { stream: true });
    const lines = pending.split(/\r\n|\r|\n/);
    pending = lines.pop() ?? "";
    lines.forEach(take);
  }
}

export type LiveState = "live" | "reconnecting" | "stopped";

/** Follows the events of `path` until `signal` aborts, opening the stream again when it
 * ends or breaks. `onState` hears whether it is live; a refusal (the sign-in ended, the
 * role is gone) stops it and is handed to `onFailure`. */
export async function follow(
  path: string,
  signal: AbortSignal,
  onEvent: (event: ServerEvent) => void,
  onState: (state: LiveState) => void,
  onFailure: (error: unknown) => void,
): Promise<void> {
  while (!signal.aborted) {
    try {
      onState("live");
      await readEvents(path, signal, onEvent);
    } catch (error) {
      if (signal.aborted) break;
      if (error instanceof ApiFailure && [401, 403, 404].includes(error.status)) {
        onState("stopped");
        onFailure(error);
        return;
      }
    }
    if (signal.aborted) break;
    onState("reconnecting");
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  onState("stopped");
}
