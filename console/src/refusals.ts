// The hub's refusals whose particulars it gives in `error.details` (a dataset, a purpose, a
// column: hub/src/api/error.rs `ErrorParticulars`), written as whole sentences in the
// person's language with what to do next. A refusal without them is left to the general
// sentence of its code.
import { t } from "./i18n";

/** `error.details` of the hub's answer: names only, never a value. */
export interface Particulars {
  reason: string;
  dataset?: string;
  purpose?: string;
  column?: string;
  columns?: string[];
  rule?: string;
}

/** A refusal as a sentence, and the dataset a person could ask access to, if that helps. */
export interface Refusal {
  text: string;
  /** `department.name`: the dataset whose page the person may ask for access on. */
  dataset?: string;
}

/** The refusal of `code` with `details` as a sentence of the console's own, when it has one. */
export function ownSentence(code: string, details: Particulars | undefined): Refusal | undefined {
  if (!details) return undefined;
  const dataset = details.dataset ?? "";
  const purpose = details.purpose ?? "";
  const columns = (details.columns ?? []).join(", ");
  switch (details.reason) {
    case "no_grant":
      return { text: t("errorNoGrant", { dataset, purpose }), dataset };
    case "column_not_granted":
      return { text: t("errorColumnsNotGranted", { dataset, purpose, columns }), dataset };
    case "verify_only":
      return { text: t("errorVerifyOnly", { dataset, purpose }) };
    case "administrative":
      return { text: t("errorAdministrative", { dataset }) };
    case "unknown_column": {
      const column = details.column ?? "";
      // A reviewer's row filter (`invalid_grant`), or a query.
      if (code === "invalid_grant") {
        return columns ? { text: t("errorFilterColumn", { column, columns }) } : undefined;
      }
      return { text: t("errorUnknownColumn", { column, columns }) };
    }
    default:
      return undefined;
  }
}

/** A message of the hub without the grant it names when that is no grant yet (`grant proposed: `, `grant being made: `, or an older hub's made-up `grant grant-1a2b: `). */
export function withoutGrantId(message: string): string {
  return message.replace(/^grant (?:grant-[0-9a-f]+|proposed|being made): /, "");
}
