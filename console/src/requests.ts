// The shapes of the access request endpoints the console reads (see the hub's OpenAPI
// document: /v1/access-requests, .../{id}/decision and .../{id}/dry-run).
import { api, cellText, sendJson } from "./api";
import { locale } from "./i18n";

function maskInChinese(mask: Mask | undefined): string {
  if (!mask) return "不脱敏";
  switch (mask.kind) {
    case "partial":
      return `部分显示（保留前 ${Number(mask.first ?? 0)} 位、后 ${Number(mask.last ?? 0)} 位）`;
    case "hash":
      return "加密假名（哈希）";
    case "null":
      return "不显示";
    case "year_only":
      return "仅显示年份";
    case "prefix":
      return `只显示「${String(mask.before ?? "")}」之前的部分`;
    case "bucket":
      return `按 ${String(mask.width ?? "")} 分段显示`;
    case "sql":
      return `SQL 表达式 ${String(mask.expression ?? "")}`;
    default:
      return mask.kind;
  }
}

/** A mask as the hub writes it, e.g. `{"kind": "partial", "first": 1, "last": 0}`. */
export type Mask = { kind: string } & Record<string, unknown>;

export interface Review {
  by: string;
  approve: boolean;
  reason?: string;
  masks?: Record<string, Mask>;
  row_filter?: string;
  verify?: VerifyTerms;
  at: string;
}

/** How a verify grant answers and how much it may be asked. */
export interface VerifyTerms {
  column_matches: boolean;
  max_attempts_per_subject: number;
  max_records_per_day: number;
}

export interface AccessRequest {
  id: string;
  dataset: string;
  requester: string;
  requester_department: string;
  requester_attributes?: Record<string, string | string[]>;
  kind?: "read" | "verify";
  columns: string[];
  purpose: string;
  justification: string;
  days: number;
  unmasked?: string[];
  masks?: Record<string, Mask>;
  /** For a verify request, the terms asked for, each optional: the defaults where absent. */
  verify?: Partial<VerifyTerms>;
  state: "pending" | "approved" | "rejected" | "withdrawn";
  publisher_review?: Review;
  officer_review?: Review;
  grant_id?: string;
  auto_approved: boolean;
  deadline: string;
  created_at: string;
  overdue: boolean;
}

/** What a reviewer would give: masks replacing the forms asked for, and a row filter. */
export interface Proposal {
  masks: Record<string, Mask>;
  row_filter?: string;
  /** For a verify request, narrower terms: each given replaces the one asked for. */
  verify?: Partial<VerifyTerms>;
}

export interface Grant {
  id: string;
  kind?: "read" | "verify";
  columns: string[];
  masks?: Record<string, Mask>;
  unmasked?: string[];
  row_filter?: string;
  purposes: string[];
  expires_at?: string;
  verify?: VerifyTerms;
  /** As listed (`GET /v1/grants`): the masks the columns' classifications put on the
   * columns the grant neither masks by name nor lifts. */
  default_masks?: Record<string, Mask>;
  /** As listed: when it was revoked, if it was. */
  revoked_at?: string;
}

/** Whether `grant` still serves: not revoked, and not past its expiry. */
export function inForce(grant: Grant, now = Date.now()): boolean {
  return !grant.revoked_at && (!grant.expires_at || Date.parse(grant.expires_at) > now);
}

export interface DryRun {
  request: string;
  read_as: { id: string; department: string; attributes?: Record<string, unknown> };
  grant: Grant;
  /** The masks the dataset's classifications put on columns the grant leaves alone. */
  default_masks?: Record<string, Mask>;
  sample?: { columns: { name: string; type: string }[]; rows: Record<string, unknown>[] };
  verify?: { matched_on: string[]; terms: Grant["verify"]; answer: Record<string, unknown> };
}

export function listRequests(): Promise<AccessRequest[]> {
  return api<AccessRequest[]>("/v1/access-requests");
}

export function fileRequest(body: {
  dataset: string;
  kind: "read" | "verify";
  columns: string[];
  purpose: string;
  justification: string;
  days: number;
  verify?: Partial<VerifyTerms>;
}): Promise<AccessRequest> {
  return sendJson<AccessRequest>("/v1/access-requests", body);
}

export function dryRun(id: string, proposal: Proposal): Promise<DryRun> {
  return sendJson<DryRun>(`/v1/access-requests/${encodeURIComponent(id)}/dry-run`, proposal);
}

export function decide(id: string, decision: Proposal & { approve: boolean; reason?: string }): Promise<AccessRequest> {
  return sendJson<AccessRequest>(`/v1/access-requests/${encodeURIComponent(id)}/decision`, decision);
}

/** Takes back the person's own request while it waits for a decision. */
export function withdraw(id: string): Promise<AccessRequest> {
  return sendJson<AccessRequest>(`/v1/access-requests/${encodeURIComponent(id)}/withdraw`, {});
}

/** A cell as its mask lets it be known: a date masked to its year is the year (the hub sends
 * `1937-01-01` for 1937), not a day; anything else as {@link cellText}. */
export function shownCell(value: unknown, mask: Mask | undefined): string {
  if (mask?.kind === "year_only" && typeof value === "string" && /^\d{4}-01-01/.test(value)) return value.slice(0, 4);
  return cellText(value);
}

/** A mask as a person reads it: `partial (first 1, last 0)`, `hash`, `raw`; in Chinese, in
 * words (`部分显示（保留前 1 位、后 0 位）`). */
export function describeMask(mask: Mask | undefined): string {
  if (locale.value === "zh-CN") return maskInChinese(mask);
  if (!mask) return "raw";
  const { kind, ...rest } = mask;
  const terms = Object.entries(rest).map(([name, value]) => `${name} ${String(value)}`);
  return terms.length ? `${kind} (${terms.join(", ")})` : kind;
}

/** Which decision the person could give now, as the hub decides it (`access::review`). */
export function slotFor(
  request: AccessRequest,
  person: { id: string; department: string; roles: string[] } | null,
): "publisher" | "officer" | null {
  if (!person || request.state !== "pending" || request.requester === person.id) return null;
  const department = request.dataset.split(".")[0];
  const by = (review?: Review) => review?.by;
  if (
    person.roles.includes("publisher") &&
    person.department === department &&
    !request.publisher_review &&
    by(request.officer_review) !== person.id
  ) {
    return "publisher";
  }
  if (person.roles.includes("security_admin") && !request.officer_review && by(request.publisher_review) !== person.id) {
    return "officer";
  }
  return null;
}

/** A deny rule as `GET /v1/deny-rules` lists it: what is never shown, whatever a grant says. */
export interface DenyRule {
  id: string;
  datasets: string;
  subject?: Record<string, string>;
  columns?: string[];
  classifications?: string[];
  reason: string;
}

/** The deny rule that keeps `field` of `table` from `person`, if one does (as the hub reads
 * them: `department.*` and `*` patterns, classification prefixes such as `pii.*`, a rule
 * without columns or classifications covering the whole dataset). */
export function denyingRule(
  rules: DenyRule[],
  person: { id: string; department: string; roles: string[] } | null,
  table: string,
  field: { name: string; classification: string },
): DenyRule | undefined {
  const department = table.split(".")[0];
  return rules.find((rule) => {
    const dataset = rule.datasets === "*" || rule.datasets === table || rule.datasets === `${department}.*`;
    const subject = rule.subject ?? {};
    const applies =
      !!person &&
      (!subject.client || subject.client === person.id) &&
      (!subject.department || subject.department === person.department) &&
      (!subject.role || person.roles.includes(subject.role));
    const columns = rule.columns ?? [];
    const classes = rule.classifications ?? [];
    const covers =
      (columns.length === 0 && classes.length === 0) ||
      columns.includes(field.name) ||
      classes.some((tag) => tag === field.classification || (tag.endsWith(".*") && field.classification.startsWith(tag.slice(0, -1))));
    return dataset && applies && covers;
  });
}

/** The terms a verify request asked for: those it states, else the hub's defaults. */
export function askedTerms(request: AccessRequest): VerifyTerms {
  return { column_matches: false, max_attempts_per_subject: 3, max_records_per_day: 10000, ...request.verify };
}
