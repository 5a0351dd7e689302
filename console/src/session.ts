// Signing a person in: the authorization-code flow with PKCE (RFC 7636), as a public
// client, against the provider the hub names at /console/config.json: its own OpenID
// Connect provider (as `console`), or a department's (Keycloak, Azure AD, another hub). The
// tokens are held in memory only (never in storage a script could read later); the refresh
// token is used once, before the access token runs out, and each use answers the next one.
// Only the PKCE verifier and the state wait in sessionStorage, for the one redirect to the
// sign-in page and back. Who the person is, the hub says (`/v1/me`): an external provider's
// claims are mapped by the hub's configuration, not here.
import { ref } from "vue";
import { type MessageKey, t } from "./i18n";

const PENDING = "causeway.sign_in";

/** Where the console signs people in (the hub's `GET /console/config.json`). */
interface Provider {
  issuer: string;
  client_id: string;
  authorization_endpoint: string;
  token_endpoint: string;
  revocation_endpoint?: string | null;
}

let provider: Promise<Provider> | null = null;

function providerOf(): Promise<Provider> {
  provider ??= fetch("/console/config.json").then(async (response) => {
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      provider = null;
      throw new Error(body?.error?.message ?? `HTTP ${response.status}`);
    }
    return body as Provider;
  });
  return provider;
}

export interface Person {
  id: string;
  name?: string;
  department: string;
  roles: string[];
  /** What row filters may refer to (`principal.grid_id`): one value or several. */
  attributes: Record<string, string | string[]>;
}

interface Tokens {
  access: string;
  refresh: string;
  expiresAt: number;
}

let tokens: Tokens | null = null;
let refreshTimer: number | undefined;
export const person = ref<Person | null>(null);

function redirectUri(): string {
  return `${location.origin}/console/callback`;
}

function base64url(bytes: ArrayBuffer | Uint8Array): string {
  const array = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let text = "";
  for (const byte of array) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** UTF-8 text of base64url (a JWT's part): names may be Chinese. */
function base64urlText(part: string): string {
  const binary = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
  return new TextDecoder().decode(Uint8Array.from(binary, (character) => character.charCodeAt(0)));
}

/** What the provider's error codes mean, in words in the person's language: nothing it
 * sends is shown as it is. */
const KNOWN_ERRORS: Record<string, MessageKey> = {
  access_denied: "signInAccessRefused",
  invalid_request: "signInNotAccepted",
  invalid_scope: "signInNotAccepted",
  unsupported_response_type: "signInNotAccepted",
  server_error: "signInHubFailed",
  temporarily_unavailable: "signInTryLater",
};

function random(length: number): string {
  return base64url(crypto.getRandomValues(new Uint8Array(length)));
}

/** Goes to the hub's sign-in page; comes back to `/console/callback`, then to `returnTo` (a
 * route of the console, such as `/datasets/civil_affairs/residents`). */
export async function signIn(returnTo: string = "/"): Promise<void> {
  const verifier = random(48);
  const state = random(16);
  const nonce = random(16);
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const { authorization_endpoint, client_id } = await providerOf();
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, nonce, returnTo }));
  const query = new URLSearchParams({
    response_type: "code",
    client_id,
    redirect_uri: redirectUri(),
    code_challenge: challenge,
    code_challenge_method: "S256",
    state,
    nonce,
    scope: "openid profile",
  });
  location.assign(`${authorization_endpoint}?${query}`);
}

/** Finishes a sign-in at the callback: where to go next. */
export async function completeSignIn(search: string): Promise<string> {
  const pending = sessionStorage.getItem(PENDING);
  const parameters = new URLSearchParams(search);
  if (!pending) throw new Error(t("signInNotStarted"));
  const { verifier, state, nonce, returnTo } = JSON.parse(pending);
  // Only the answer to this tab's own request counts: a link someone else made is ignored,
  // and does not end the sign-in waiting here.
  if (parameters.get("state") !== state) throw new Error(t("signInNotOurs"));
  sessionStorage.removeItem(PENDING);
  const error = parameters.get("error");
  if (error) throw new Error(t(KNOWN_ERRORS[error] ?? "signInProviderRefused"));
  const code = parameters.get("code");
  if (!code) throw new Error(t("signInNoCode"));
  const { client_id, issuer } = await providerOf();
  const answer = await tokenRequest({
    grant_type: "authorization_code",
    client_id,
    code,
    redirect_uri: redirectUri(),
    code_verifier: verifier,
  });
  const claims = JSON.parse(base64urlText(answer.id_token.split(".")[1] ?? ""));
  const audience: string[] = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (claims.nonce !== nonce || !audience.includes(client_id) || claims.iss !== issuer) {
    throw new Error(t("signInTokenNotOurs"));
  }
  keep(answer);
  // The person as the hub takes them to be, from the access token it will be sent.
  const me = await fetch("/v1/me", { headers: { Authorization: `Bearer ${answer.access_token}` } });
  if (!me.ok) {
    forget();
    throw new Error(me.status === 401 ? t("signInTokensRefused") : `HTTP ${me.status}`);
  }
  const principal = await me.json();
  person.value = {
    id: principal.id,
    name: claims.name,
    department: principal.department,
    roles: principal.roles,
    attributes: principal.attributes ?? {},
  };
  // Only a route of the console: never another site.
  return typeof returnTo === "string" && returnTo.startsWith("/") && !returnTo.startsWith("//") ? returnTo : "/";
}

interface TokenAnswer {
  access_token: string;
  refresh_token: string;
  id_token: string;
  expires_in: number;
}

async function tokenRequest(form: Record<string, string>): Promise<TokenAnswer> {
  const { token_endpoint } = await providerOf();
  const response = await fetch(token_endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error_description ?? `HTTP ${response.status}`);
  return body as TokenAnswer;
}

function keep(answer: TokenAnswer): void {
  if (!tokens) lastActive = Date.now();
  tokens = {
    access: answer.access_token,
    refresh: answer.refresh_token,
    expiresAt: Date.now() + answer.expires_in * 1000,
  };
  window.clearTimeout(refreshTimer);
  // A minute before it runs out, or half its life for short ones.
  const wait = Math.max(answer.expires_in * 500, answer.expires_in * 1000 - 60_000);
  refreshTimer = window.setTimeout(() => void refresh(), wait);
}

let refreshing: Promise<boolean> | null = null;
/** Counts sign-outs: a refresh that was under way when the person signed out is dropped. */
let generation = 0;

/** Uses the refresh token once; false when the sign-in has ended. */
export function refresh(): Promise<boolean> {
  // One refresh at a time: a refresh token used twice ends the whole sign-in.
  refreshing ??= (async () => {
    if (!tokens) return false;
    const started = generation;
    try {
      const answer = await tokenRequest({
        grant_type: "refresh_token",
        client_id: (await providerOf()).client_id,
        refresh_token: tokens.refresh,
      });
      if (started !== generation) return false;
      keep(answer);
      return true;
    } catch {
      if (started === generation) forget();
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

function forget(): void {
  generation += 1;
  tokens = null;
  person.value = null;
  // The warning of an idle sign-out is over once signed out.
  idleSoon.value = false;
  window.clearTimeout(refreshTimer);
}

/** Ends the sign-in on the hub (its refresh token stops at once) and here. */
export async function signOut(): Promise<void> {
  const refreshToken = tokens?.refresh;
  forget();
  const { client_id, revocation_endpoint } = await providerOf();
  if (refreshToken && revocation_endpoint) {
    await fetch(revocation_endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ client_id, token: refreshToken, token_type_hint: "refresh_token" }),
    }).catch(() => undefined);
  }
}

/** Minutes without a key press, click, touch or scroll after which the console signs out:
 * a console left open on a shared office computer does not stay signed in. (The hub ends
 * every sign-in after `auth.session_ttl` anyway, however busy.) */
export const IDLE_MINUTES = 30;
let lastActive = Date.now();
/** True in the last minute before an idle sign-out: the page warns. */
export const idleSoon = ref(false);

/** Calls `onIdle` once a signed-in person has done nothing for {@link IDLE_MINUTES}. */
export function watchIdle(onIdle: () => void): void {
  for (const kind of ["pointerdown", "keydown", "wheel", "touchstart"]) {
    window.addEventListener(
      kind,
      () => {
        lastActive = Date.now();
        idleSoon.value = false;
      },
      { passive: true },
    );
  }
  window.setInterval(() => {
    const idle = Date.now() - lastActive;
    idleSoon.value = tokens !== null && idle > (IDLE_MINUTES - 1) * 60_000;
    if (tokens && idle > IDLE_MINUTES * 60_000) onIdle();
  }, 10_000);
}

export function signedIn(): boolean {
  return tokens !== null;
}

/** The current access token, refreshed first when it has run out. */
export async function accessToken(): Promise<string | null> {
  if (tokens && Date.now() > tokens.expiresAt - 5_000) await refresh();
  return tokens?.access ?? null;
}
