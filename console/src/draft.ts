// What a person was writing in the workbench (the SQL and its purpose). It lives in memory
// like everything else; only when the console signs out for lack of use is it put aside in
// this tab's sessionStorage, and given back only to the same person signing in again in the
// same tab. An explicit sign-out drops it.
import { reactive } from "vue";

const ASIDE = "causeway.draft";

export const draft = reactive({ sql: "", purpose: "" });

/** Keeps the draft of `owner` for their next sign-in in this tab. */
export function putAside(owner: string): void {
  if (!draft.sql.trim() && !draft.purpose.trim()) return;
  sessionStorage.setItem(ASIDE, JSON.stringify({ owner, sql: draft.sql, purpose: draft.purpose }));
}

/** Gives the draft put aside back if `owner` put it aside; anyone else's is dropped. */
export function takeBack(owner: string): void {
  const aside = sessionStorage.getItem(ASIDE);
  sessionStorage.removeItem(ASIDE);
  if (!aside) return;
  try {
    const kept = JSON.parse(aside);
    if (kept.owner === owner && typeof kept.sql === "string" && typeof kept.purpose === "string") {
      draft.sql = kept.sql;
      draft.purpose = kept.purpose;
    }
  } catch {
    // Not a draft of this console's: nothing to give back.
  }
}

/** Forgets the draft, in memory and aside. */
export function dropDraft(): void {
  sessionStorage.removeItem(ASIDE);
  draft.sql = "";
  draft.purpose = "";
}
