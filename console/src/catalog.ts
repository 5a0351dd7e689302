// The shapes of `GET /v1/catalog` the console reads (see the hub's OpenAPI document).
export interface Field {
  name: string;
  type: string;
  nullable: boolean;
  classification: string;
  description?: string;
}

export interface DatasetSummary {
  name: string;
  table: string;
  title: string;
  description: string;
  owner: { name: string; email: string };
  source_kind: string;
  version: number;
  available: boolean;
  unavailable_reason?: string;
  fields: Field[];
  access_conditions: { decision_days: number; recertification_days: number };
  accelerated: boolean;
  /** The in-memory copy queries read, when the dataset is accelerated. */
  acceleration?: { refresh?: string; rows: number; refreshed_at: string; last_error?: string; last_error_at?: string };
  /** The columns that identify whom a row is about: a dataset with one offers verify-only grants. */
  subject_key?: string[];
}

export interface Catalog {
  departments: { name: string; datasets: DatasetSummary[] }[];
}
