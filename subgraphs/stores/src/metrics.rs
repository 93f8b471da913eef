//! What the dashboard's payments panels read: `c9pay_payments_total{outcome}`, each sale
//! counted when it ends, once (`paid`, or `refused` by the ledger), whether a request or
//! the reconciler ended it, and each time a sale is left `pending` because credit's answer
//! did not come.

use c9pay_platform::metrics::Metrics;
use prometheus::{IntCounterVec, Opts};

#[derive(Clone)]
pub struct PaymentMetrics {
    payments: IntCounterVec,
}

/// How a sale's payment went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentOutcome {
    Paid,
    Refused,
    /// The outcome is unknown for now; the sale stays pending (counted each time).
    Pending,
}

impl PaymentOutcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Paid => "paid",
            Self::Refused => "refused",
            Self::Pending => "pending",
        }
    }
}

impl PaymentMetrics {
    pub fn register(metrics: &Metrics) -> anyhow::Result<Self> {
        let payments = IntCounterVec::new(
            Opts::new(
                "payments_total",
                "Sales paid or refused (each once, when it ends) and left pending (each time), by outcome",
            ),
            &["outcome"],
        )?;
        metrics.registry().register(Box::new(payments.clone()))?;
        // Every outcome is a series from the start, so that a rate of zero is a value.
        for outcome in [PaymentOutcome::Paid, PaymentOutcome::Refused, PaymentOutcome::Pending] {
            payments.with_label_values(&[outcome.as_str()]);
        }
        Ok(Self { payments })
    }

    pub fn record(&self, outcome: PaymentOutcome, count: usize) {
        self.payments
            .with_label_values(&[outcome.as_str()])
            .inc_by(u64::try_from(count).unwrap_or(u64::MAX));
    }
}
