//! Integers as JSON may spell them: `3` and `3.0` are the same number.
//!
//! JSON has one number type, JSON Schema (since draft 6, and so OpenAPI 3.1)
//! counts `3.0` as an integer, and clients in languages whose numbers are
//! floats send it that way. serde refuses a float where it expects an
//! integer, so integer fields of request bodies read through here: an
//! integral float is taken, a fraction (`2.5`) is still refused, and the
//! range of the field's type still applies.

use serde::de::{Deserialize, Deserializer, Error, Unexpected};

/// Read an integer of type `T`, accepting an integral float for it.
pub fn integral<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64>,
{
    let number = serde_json::Number::deserialize(deserializer)?;
    let value = if let Some(value) = number.as_i64() {
        value
    } else if let Some(value) = number.as_u64() {
        return Err(D::Error::invalid_value(
            Unexpected::Unsigned(value),
            &"a smaller integer",
        ));
    } else {
        let float = number.as_f64().unwrap_or(f64::NAN);
        // i64::MAX as f64 rounds up to 2^63, so the upper bound is exclusive.
        if float.fract() != 0.0 || !(-(2f64.powi(63))..2f64.powi(63)).contains(&float) {
            return Err(D::Error::invalid_type(
                Unexpected::Float(float),
                &"an integer",
            ));
        }
        float as i64
    };
    T::try_from(value)
        .map_err(|_| D::Error::invalid_value(Unexpected::Signed(value), &"a smaller integer"))
}

/// [`integral`] for a field that may be left out but not set to null.
pub fn present_integral<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64>,
{
    integral(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Count {
        #[serde(deserialize_with = "super::integral")]
        n: i32,
    }

    fn parse(json: &str) -> Result<i32, String> {
        serde_json::from_str::<Count>(json)
            .map(|c| c.n)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn integral_floats_are_integers_and_fractions_are_not() {
        assert_eq!(parse(r#"{"n": 3}"#), Ok(3));
        assert_eq!(parse(r#"{"n": 3.0}"#), Ok(3));
        assert_eq!(parse(r#"{"n": -2.0}"#), Ok(-2));
        assert!(parse(r#"{"n": 2.5}"#).is_err());
        assert!(parse(r#"{"n": "3"}"#).is_err());
        assert!(parse(r#"{"n": 3000000000}"#).is_err());
        assert!(parse(r#"{"n": 1e300}"#).is_err());
    }
}
