//! Money: an integer number of minor units with an ISO-4217 currency, never a
//! float, so totals never drift.
//!
//! * [`amount`] parses a `markaz.common.v1.Money` field of a request into a
//!   [`Money`] (a known ISO-4217 code, a sign rule), reporting violations on
//!   `field.currency_code` / `field.minor_units`;
//! * [`Money::checked_add`], [`Money::checked_sub`] and [`sum`] refuse to mix
//!   currencies and to overflow instead of wrapping;
//! * `Display` writes an amount for people: `1,234.50 USD`.
//!
//! Stored money is two columns: `BIGINT` minor units and `TEXT` currency;
//! [`Money::stored`] reads them back.

use std::fmt;

use markaz_proto::common::v1 as common;

use crate::error::{Error, FieldViolation};

/// An ISO-4217 currency in circulation, with its number of minor-unit digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: [u8; 3],
    digits: u8,
}

/// Active ISO-4217 currencies (list 1, without precious metals, testing and
/// special drawing codes): each code followed by the digits of its minor unit.
const CURRENCIES: &str = concat!(
    "AED2 AFN2 ALL2 AMD2 ANG2 AOA2 ARS2 AUD2 AWG2 AZN2 BAM2 BBD2 BDT2 BGN2 ",
    "BHD3 BIF0 BMD2 BND2 BOB2 BOV2 BRL2 BSD2 BTN2 BWP2 BYN2 BZD2 CAD2 CDF2 ",
    "CHE2 CHF2 CHW2 CLF4 CLP0 CNY2 COP2 COU2 CRC2 CUP2 CVE2 CZK2 DJF0 DKK2 ",
    "DOP2 DZD2 EGP2 ERN2 ETB2 EUR2 FJD2 FKP2 GBP2 GEL2 GHS2 GIP2 GMD2 GNF0 ",
    "GTQ2 GYD2 HKD2 HNL2 HTG2 HUF2 IDR2 ILS2 INR2 IQD3 IRR2 ISK0 JMD2 JOD3 ",
    "JPY0 KES2 KGS2 KHR2 KMF0 KPW2 KRW0 KWD3 KYD2 KZT2 LAK2 LBP2 LKR2 LRD2 ",
    "LSL2 LYD3 MAD2 MDL2 MGA2 MKD2 MMK2 MNT2 MOP2 MRU2 MUR2 MVR2 MWK2 MXN2 ",
    "MXV2 MYR2 MZN2 NAD2 NGN2 NIO2 NOK2 NPR2 NZD2 OMR3 PAB2 PEN2 PGK2 PHP2 ",
    "PKR2 PLN2 PYG0 QAR2 RON2 RSD2 RUB2 RWF0 SAR2 SBD2 SCR2 SDG2 SEK2 SGD2 ",
    "SHP2 SLE2 SOS2 SRD2 SSP2 STN2 SVC2 SYP2 SZL2 THB2 TJS2 TMT2 TND3 TOP2 ",
    "TRY2 TTD2 TWD2 TZS2 UAH2 UGX0 USD2 USN2 UYI0 UYU2 UYW4 UZS2 VED2 VES2 ",
    "VND0 VUV0 WST2 XAF0 XCD2 XCG2 XOF0 XPF0 YER2 ZAR2 ZMW2 ZWG2 ",
);

impl Currency {
    /// The currency of an ISO-4217 code in circulation (uppercase, e.g. "USD").
    pub fn of(code: &str) -> Option<Currency> {
        let b = code.as_bytes();
        if b.len() != 3 {
            return None;
        }
        CURRENCIES
            .split_whitespace()
            .find(|entry| &entry.as_bytes()[..3] == b)
            .map(|entry| Currency {
                code: [b[0], b[1], b[2]],
                digits: entry.as_bytes()[3] - b'0',
            })
    }

    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.code).expect("ASCII from the list")
    }

    /// Digits of the minor unit: 2 for USD (cents), 0 for JPY, 3 for KWD.
    pub fn minor_digits(&self) -> u32 {
        u32::from(self.digits)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Parses a currency code field.
pub fn currency(field: &str, code: &str) -> Result<Currency, FieldViolation> {
    if code.is_empty() {
        return Err(FieldViolation::new(field, "required"));
    }
    Currency::of(code).ok_or_else(|| {
        FieldViolation::new(
            field,
            format!(
                "'{code}' is not an ISO-4217 currency code in circulation, e.g. USD, EUR, SYP, TRY"
            ),
        )
    })
}

/// An amount of money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    currency: Currency,
    minor: i64,
}

/// Why money arithmetic refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoneyError {
    /// Two currencies met; amounts are never converted implicitly.
    CurrencyMismatch { expected: Currency, got: Currency },
    /// The result does not fit in 64 bits of minor units.
    Overflow,
}

impl fmt::Display for MoneyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MoneyError::CurrencyMismatch { expected, got } => {
                write!(
                    f,
                    "amounts in {got} cannot be added to amounts in {expected}"
                )
            }
            MoneyError::Overflow => f.write_str("the amount is too large"),
        }
    }
}

impl std::error::Error for MoneyError {}

impl MoneyError {
    /// The error as a violation of `field`.
    pub fn violation(&self, field: &str) -> FieldViolation {
        FieldViolation::new(field, self.to_string())
    }
}

impl From<MoneyError> for Error {
    fn from(e: MoneyError) -> Self {
        // Inputs are checked before arithmetic; reaching this is a bug or a
        // corrupted record, not a bad request.
        Error::internal(format!("money: {e}"))
    }
}

impl Money {
    pub fn new(currency: Currency, minor_units: i64) -> Money {
        Money {
            currency,
            minor: minor_units,
        }
    }

    pub fn zero(currency: Currency) -> Money {
        Money::new(currency, 0)
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn minor_units(&self) -> i64 {
        self.minor
    }

    pub fn is_zero(&self) -> bool {
        self.minor == 0
    }

    pub fn is_negative(&self) -> bool {
        self.minor < 0
    }

    fn same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                expected: self.currency,
                got: other.currency,
            })
        }
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        self.minor
            .checked_add(other.minor)
            .map(|m| Money::new(self.currency, m))
            .ok_or(MoneyError::Overflow)
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        self.minor
            .checked_sub(other.minor)
            .map(|m| Money::new(self.currency, m))
            .ok_or(MoneyError::Overflow)
    }

    /// Compares two amounts of the same currency.
    pub fn checked_cmp(&self, other: &Money) -> Result<std::cmp::Ordering, MoneyError> {
        self.same_currency(other)?;
        Ok(self.minor.cmp(&other.minor))
    }

    pub fn to_proto(&self) -> common::Money {
        common::Money {
            currency_code: self.currency.code().to_string(),
            minor_units: self.minor,
        }
    }

    /// Reads money back from its two stored columns.
    pub fn stored(currency_code: &str, minor_units: i64) -> Result<Money, Error> {
        Currency::of(currency_code)
            .map(|c| Money::new(c, minor_units))
            .ok_or_else(|| Error::internal(format!("stored currency '{currency_code}' is unknown")))
    }
}

impl fmt::Display for Money {
    /// `1,234.50 USD`, `-7 JPY`, `0.125 KWD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.currency.minor_digits();
        let scale = 10u64.pow(digits);
        let abs = self.minor.unsigned_abs();
        let (whole, fraction) = (abs / scale, abs % scale);
        let whole = whole.to_string();
        let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        let sign = if self.minor < 0 { "-" } else { "" };
        if digits == 0 {
            write!(f, "{sign}{grouped} {}", self.currency)
        } else {
            write!(
                f,
                "{sign}{grouped}.{fraction:0width$} {}",
                self.currency,
                width = digits as usize
            )
        }
    }
}

/// What sign an amount field accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    /// More than zero: a budget line, a tranche, a payment.
    Positive,
    /// Zero or more.
    NonNegative,
}

/// Parses a required money field: a known currency and minor units of the
/// accepted sign. Violations name `field.currency_code` / `field.minor_units`
/// (or `field` when the message is absent).
pub fn amount(
    field: &str,
    value: Option<&common::Money>,
    sign: Sign,
) -> Result<Money, Vec<FieldViolation>> {
    let Some(value) = value else {
        return Err(vec![FieldViolation::new(field, "required")]);
    };
    let mut errors = Vec::new();
    let currency = currency(&format!("{field}.currency_code"), &value.currency_code)
        .map_err(|e| errors.push(e))
        .ok();
    let ok_sign = match sign {
        Sign::Positive => value.minor_units > 0,
        Sign::NonNegative => value.minor_units >= 0,
    };
    if !ok_sign {
        errors.push(FieldViolation::new(
            format!("{field}.minor_units"),
            match sign {
                Sign::Positive => "must be more than zero",
                Sign::NonNegative => "must not be negative",
            },
        ));
    }
    match currency {
        Some(c) if errors.is_empty() => Ok(Money::new(c, value.minor_units)),
        _ => Err(errors),
    }
}

/// The sum of `amounts`, all in `currency`: refuses another currency and
/// overflow. An empty sum is zero.
pub fn sum<I>(currency: Currency, amounts: I) -> Result<Money, MoneyError>
where
    I: IntoIterator<Item = Money>,
{
    amounts
        .into_iter()
        .try_fold(Money::zero(currency), Money::checked_add)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(m: i64) -> Money {
        Money::new(Currency::of("USD").unwrap(), m)
    }

    #[test]
    fn only_iso_codes_in_circulation_are_currencies() {
        assert_eq!(Currency::of("SYP").unwrap().minor_digits(), 2);
        assert_eq!(Currency::of("JPY").unwrap().minor_digits(), 0);
        assert_eq!(Currency::of("KWD").unwrap().minor_digits(), 3);
        for bad in ["usd", "US", "USDD", "XAU", "XXX", "ABC", ""] {
            assert!(Currency::of(bad).is_none(), "{bad}");
        }
        assert!(currency("c", "").is_err());
        assert!(currency("c", "EUR").is_ok());
        // The list is sorted and has no duplicates.
        let codes: Vec<&str> = CURRENCIES.split_whitespace().collect();
        assert!(codes.iter().all(|c| c.len() == 4));
        assert!(codes.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn amounts_are_parsed_with_every_violation_named() {
        let ok = common::Money {
            currency_code: "TRY".into(),
            minor_units: 150,
        };
        assert_eq!(
            amount("a", Some(&ok), Sign::Positive)
                .unwrap()
                .minor_units(),
            150
        );
        let bad = common::Money {
            currency_code: "TL".into(),
            minor_units: 0,
        };
        let fields: Vec<_> = amount("line.amount", Some(&bad), Sign::Positive)
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(
            fields,
            ["line.amount.currency_code", "line.amount.minor_units"]
        );
        assert!(
            amount(
                "a",
                Some(&common::Money {
                    currency_code: "USD".into(),
                    minor_units: 0
                }),
                Sign::NonNegative
            )
            .is_ok()
        );
        assert_eq!(
            amount("a", None, Sign::NonNegative).unwrap_err()[0].field,
            "a"
        );
    }

    #[test]
    fn arithmetic_refuses_mixed_currencies_and_overflow() {
        let eur = Money::new(Currency::of("EUR").unwrap(), 1);
        assert!(matches!(
            usd(1).checked_add(eur),
            Err(MoneyError::CurrencyMismatch { .. })
        ));
        assert_eq!(usd(i64::MAX).checked_add(usd(1)), Err(MoneyError::Overflow));
        assert_eq!(usd(5).checked_sub(usd(7)).unwrap().minor_units(), -2);
        let usd_c = Currency::of("USD").unwrap();
        assert_eq!(sum(usd_c, [usd(1), usd(2), usd(3)]).unwrap(), usd(6));
        assert_eq!(sum(usd_c, []).unwrap(), usd(0));
        assert!(sum(usd_c, [usd(1), eur]).is_err());
        assert!(usd(3).checked_cmp(&eur).is_err());
    }

    #[test]
    fn amounts_display_for_people() {
        assert_eq!(usd(123_456_789).to_string(), "1,234,567.89 USD");
        assert_eq!(usd(-5).to_string(), "-0.05 USD");
        assert_eq!(usd(0).to_string(), "0.00 USD");
        let jpy = Money::new(Currency::of("JPY").unwrap(), 1000);
        assert_eq!(jpy.to_string(), "1,000 JPY");
        let kwd = Money::new(Currency::of("KWD").unwrap(), 125);
        assert_eq!(kwd.to_string(), "0.125 KWD");
        assert_eq!(
            Money::stored("SYP", 7).unwrap().to_proto().currency_code,
            "SYP"
        );
        assert!(Money::stored("???", 7).is_err());
    }
}
