//! The database tables (benefit payments for PostgreSQL, inspections for MySQL), as SQL.

use std::mem;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::dates::{Day, random_day};
use crate::district::District;
use crate::enterprises::{Enterprise, InspectionResult};
use crate::text::{Dialect, hundredths, push_hundredths, push_iso_date, push_number, push_sql_string};
use crate::{
    DatabaseTable, INSERT_BATCH_ROWS, INSPECTIONS_FROM, PAYMENTS_FROM, PAYMENTS_TO, REFERENCE_DAY, Stream,
    pick, rng_for,
};

/// Multi-row INSERT statements of at most `INSERT_BATCH_ROWS` rows.
pub(crate) struct InsertBatches {
    /// `INSERT INTO table (columns) VALUES`
    pub(crate) head: &'static str,
    pub(crate) batches: Vec<String>,
    pub(crate) current: String,
    pub(crate) rows_in_current: usize,
    pub(crate) rows: usize,
}

impl InsertBatches {
    pub(crate) fn new(head: &'static str) -> Self {
        Self {
            head,
            batches: Vec::new(),
            current: String::new(),
            rows_in_current: 0,
            rows: 0,
        }
    }

    /// The statement to write the next row's parenthesised values to.
    pub(crate) fn next_row(&mut self) -> &mut String {
        if self.rows_in_current == INSERT_BATCH_ROWS {
            self.batches.push(mem::take(&mut self.current));
            self.rows_in_current = 0;
        }
        if self.rows_in_current == 0 {
            self.current.push_str(self.head);
            self.current.push('\n');
        } else {
            self.current.push_str(",\n");
        }
        self.rows_in_current += 1;
        self.rows += 1;
        &mut self.current
    }

    pub(crate) fn finish(mut self, setup: &[&str]) -> DatabaseTable {
        if self.rows_in_current > 0 {
            self.batches.push(self.current);
        }
        DatabaseTable {
            setup: setup.iter().map(|statement| (*statement).to_owned()).collect(),
            insert_batches: self.batches,
            rows: self.rows,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PaymentKind {
    Pension,
    MedicalReimbursement,
    Subsidy,
}

impl PaymentKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Pension => "pension",
            Self::MedicalReimbursement => "medical_reimbursement",
            Self::Subsidy => "subsidy",
        }
    }

    pub(crate) fn amount_cents(self, rng: &mut ChaCha8Rng) -> u64 {
        match self {
            Self::Pension => rng.random_range(hundredths(1_200)..=hundredths(4_800)),
            Self::MedicalReimbursement => rng.random_range(hundredths(50)..=hundredths(8_000)),
            Self::Subsidy => rng.random_range(hundredths(100)..=hundredths(1_000)),
        }
    }
}

pub(crate) const PAYMENTS_PER_ELDER: [(u8, u32); 5] = [(0, 10), (1, 25), (2, 35), (3, 20), (4, 10)];
pub(crate) const PAYMENT_KINDS: [(PaymentKind, u32); 3] = [
    (PaymentKind::Pension, 60),
    (PaymentKind::MedicalReimbursement, 25),
    (PaymentKind::Subsidy, 15),
];

pub(crate) struct BenefitPayment<'a> {
    pub(crate) payment_id: u64,
    pub(crate) id_number: &'a str,
    pub(crate) kind: PaymentKind,
    pub(crate) amount_cents: u64,
    pub(crate) paid_on: Day,
    /// When the payment was recorded on `paid_on`, in seconds after midnight (UTC+8).
    pub(crate) recorded_second: u32,
}

/// Payments in 2024 to residents aged 60 or more.
pub(crate) fn each_benefit_payment(district: &District, mut visit: impl FnMut(&BenefitPayment<'_>)) {
    let mut rng = rng_for(Stream::BenefitPayments);
    let mut payment_id = 0;
    for resident in district.residents.iter().filter(|resident| resident.age >= 60) {
        for _ in 0..pick(&mut rng, &PAYMENTS_PER_ELDER) {
            payment_id += 1;
            let kind = pick(&mut rng, &PAYMENT_KINDS);
            visit(&BenefitPayment {
                payment_id,
                id_number: &resident.id_number,
                kind,
                amount_cents: kind.amount_cents(&mut rng),
                paid_on: random_day(&mut rng, PAYMENTS_FROM, PAYMENTS_TO),
                recorded_second: rng.random_range(8 * 3_600..18 * 3_600),
            });
        }
    }
}

pub(crate) const BENEFIT_PAYMENTS_SETUP: [&str; 3] = [
    "DROP TABLE IF EXISTS benefit_payments",
    "CREATE TABLE benefit_payments (
    payment_id BIGINT PRIMARY KEY,
    id_number VARCHAR(18) NOT NULL,
    kind TEXT,
    amount NUMERIC(10,2),
    paid_on DATE,
    recorded_at TIMESTAMPTZ
)",
    "CREATE INDEX benefit_payments_id_number ON benefit_payments (id_number)",
];

pub(crate) fn benefit_payments_table(district: &District) -> DatabaseTable {
    let mut batches = InsertBatches::new(
        "INSERT INTO benefit_payments (payment_id, id_number, kind, amount, paid_on, recorded_at) VALUES",
    );
    let mut text = String::with_capacity(32);
    each_benefit_payment(district, |payment| {
        let row = batches.next_row();
        row.push('(');
        push_number(row, payment.payment_id, 1);
        row.push_str(", ");
        push_sql_string(row, payment.id_number, Dialect::Postgres);
        row.push_str(", ");
        push_sql_string(row, payment.kind.as_str(), Dialect::Postgres);
        row.push_str(", ");
        push_hundredths(row, payment.amount_cents);
        row.push_str(", ");
        text.clear();
        push_iso_date(&mut text, payment.paid_on);
        push_sql_string(row, &text, Dialect::Postgres);
        row.push_str(", ");
        // The timestamp is the date just written, then the time and the offset.
        text.push(' ');
        push_number(&mut text, u64::from(payment.recorded_second / 3_600), 2);
        text.push(':');
        push_number(&mut text, u64::from(payment.recorded_second / 60 % 60), 2);
        text.push(':');
        push_number(&mut text, u64::from(payment.recorded_second % 60), 2);
        text.push_str("+08");
        push_sql_string(row, &text, Dialect::Postgres);
        row.push(')');
    });
    batches.finish(&BENEFIT_PAYMENTS_SETUP)
}

pub(crate) const INSPECTIONS_PER_ENTERPRISE: [(u8, u32); 5] = [(0, 10), (1, 25), (2, 35), (3, 20), (4, 10)];

pub(crate) struct Inspection<'a> {
    pub(crate) inspection_id: u64,
    pub(crate) credit_code: &'a str,
    pub(crate) inspected_on: Day,
    pub(crate) result: InspectionResult,
    /// Only when fined.
    pub(crate) fine_cents: Option<u64>,
}

/// Inspections since 2015 (or the firm's founding) of the enterprises in `enterprises.ndjson`.
pub(crate) fn each_inspection(enterprises: &[Enterprise<'_>], mut visit: impl FnMut(&Inspection<'_>)) {
    let mut rng = rng_for(Stream::Inspections);
    let mut inspection_id = 0;
    for enterprise in enterprises {
        let results = enterprise.rating.inspection_results();
        for _ in 0..pick(&mut rng, &INSPECTIONS_PER_ENTERPRISE) {
            inspection_id += 1;
            let inspected_on = random_day(
                &mut rng,
                INSPECTIONS_FROM.max(enterprise.established),
                REFERENCE_DAY.plus(-1),
            );
            let result = pick(&mut rng, &results);
            let fine_cents =
                (result == InspectionResult::Fined).then(|| hundredths(100 * rng.random_range(10..=2_000)));
            visit(&Inspection {
                inspection_id,
                credit_code: &enterprise.credit_code,
                inspected_on,
                result,
                fine_cents,
            });
        }
    }
}

pub(crate) const INSPECTIONS_SETUP: [&str; 2] = [
    "DROP TABLE IF EXISTS inspections",
    "CREATE TABLE inspections (
    inspection_id BIGINT PRIMARY KEY,
    credit_code VARCHAR(18) NOT NULL,
    inspected_on DATE,
    result VARCHAR(16),
    fine DECIMAL(12,2) NULL,
    INDEX inspections_credit_code (credit_code)
)",
];

pub(crate) fn inspections_table(enterprises: &[Enterprise<'_>]) -> DatabaseTable {
    let mut batches = InsertBatches::new(
        "INSERT INTO inspections (inspection_id, credit_code, inspected_on, result, fine) VALUES",
    );
    let mut text = String::with_capacity(10);
    each_inspection(enterprises, |inspection| {
        let row = batches.next_row();
        row.push('(');
        push_number(row, inspection.inspection_id, 1);
        row.push_str(", ");
        push_sql_string(row, inspection.credit_code, Dialect::MySql);
        row.push_str(", ");
        text.clear();
        push_iso_date(&mut text, inspection.inspected_on);
        push_sql_string(row, &text, Dialect::MySql);
        row.push_str(", ");
        push_sql_string(row, inspection.result.as_str(), Dialect::MySql);
        row.push_str(", ");
        match inspection.fine_cents {
            Some(cents) => push_hundredths(row, cents),
            None => row.push_str("NULL"),
        }
        row.push(')');
    });
    batches.finish(&INSPECTIONS_SETUP)
}
