// The hub's refusals whose particulars the console can read from its message (a dataset, a
// purpose, a column), written as whole sentences in the person's language with what to do
// next. The messages are the hub's (policies/src/decision.rs `AccessDenied`, DataFusion's
// schema errors in `invalid_query` and `invalid_grant`); one that does not read as expected
// is left to the general sentence of its code.
import { t } from "./i18n";

/** A refusal as a sentence, and the dataset a person could ask access to, if that helps. */
export interface Refusal {
  text: string;
  /** `department.name`: the dataset whose page the person may ask for access on. */
  dataset?: string;
}

/** A column a query or row filter names that its tables do not have, and those they have
 * (DataFusion: `Schema error: No field named nme. Did you mean ...? Valid fields are a.b.c, ...`). */
export function unknownColumn(message: string): { column: string; columns: string[] } | undefined {
  const named = message.match(/No field named "?([^"\s]+?)"?\.(?:\s|$)/);
  if (!named?.[1]) return undefined;
  const column = named[1].split(".").pop() ?? named[1];
  const valid = message.match(/Valid fields are (.+?)\.?\s*$/s)?.[1] ?? "";
  // Each field is written qualified (`department.dataset.column`): the column is enough.
  const columns = valid
    .split(",")
    .map((field) => field.trim().replace(/^"|"$/g, "").split(".").pop() ?? "")
    .filter(Boolean);
  return { column, columns: [...new Set(columns)] };
}

/** `code`'s refusal with `message` as a sentence of the console's own, when it reads it. */
export function ownSentence(code: string, message: string): Refusal | undefined {
  switch (code) {
    case "access_denied": {
      const noGrant = message.match(/^no grant lets you read (\S+) for the purpose '(.*)'$/s);
      if (noGrant?.[1]) {
        return { text: t("errorNoGrant", { dataset: noGrant[1], purpose: noGrant[2] ?? "" }), dataset: noGrant[1] };
      }
      const verifyOnly = message.match(/^your grant on (\S+) for the purpose '(.*)' is verify-only/s);
      if (verifyOnly?.[1]) return { text: t("errorVerifyOnly", { dataset: verifyOnly[1], purpose: verifyOnly[2] ?? "" }) };
      const administrative = message.match(/^(\S+) is not shown to you: an account with the (\w+) role reads no data/);
      if (administrative?.[1]) return { text: t("errorAdministrative", { dataset: administrative[1] }) };
      return undefined;
    }
    case "invalid_query": {
      const unknown = unknownColumn(message);
      if (!unknown) return undefined;
      return { text: t("errorUnknownColumn", { column: unknown.column, columns: unknown.columns.join(", ") }) };
    }
    case "invalid_grant": {
      // A reviewer's row filter that names no column of the dataset (the message also names
      // the grant the dry run made up, which means nothing to the reviewer).
      const unknown = message.includes("row filter") ? unknownColumn(message) : undefined;
      if (!unknown) return undefined;
      return { text: t("errorFilterColumn", { column: unknown.column, columns: unknown.columns.join(", ") }) };
    }
    default:
      return undefined;
  }
}

/** A message of the hub without the grant it names when that is no grant yet (`grant proposed: `, `grant being made: `, or an older hub's made-up `grant grant-1a2b: `). */
export function withoutGrantId(message: string): string {
  return message.replace(/^grant (?:grant-[0-9a-f]+|proposed|being made): /, "");
}
