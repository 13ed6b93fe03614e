//! A [`RemoteEvaluator`] bound to a client: one E13 inference call per record
//! (spec §5.5).

use reqwest::Method;
use serde_json::{Value, json};

use crate::Client;
use crate::api::{JSON_TIMEOUT, UNSTABLE, json_body};
use crate::evaluators::{
    BoxFuture, CallError, Evaluation, Evaluator, EvaluatorContext, EvaluatorResult, RemoteEvaluator,
};

/// A remote evaluator bound to a client.
pub(crate) struct Remote {
    pub(crate) client: Client,
    pub(crate) spec: RemoteEvaluator,
}

impl Evaluator for Remote {
    fn name(&self) -> &str {
        &self.spec.eval_name
    }

    fn source_type(&self) -> Option<&str> {
        Some("managed")
    }

    fn evaluate<'a>(
        &'a self,
        context: &'a EvaluatorContext,
    ) -> BoxFuture<'a, std::result::Result<Evaluation, CallError>> {
        Box::pin(async move {
            let payload = match &self.spec.transform {
                Some(transform) => transform(context),
                None => RemoteEvaluator::default_context(context),
            };
            let body = json!({"data": {"type": "evaluator_inference", "attributes": {"context": payload}}});
            let path = format!("{UNSTABLE}/evaluators/{}/infer", self.spec.eval_name);
            let body = json_body(&body).map_err(|e| CallError::new(e.to_string()))?;
            let answer = self
                .client
                .send(Method::POST, &path, Some(body), JSON_TIMEOUT, false)
                .await
                .map_err(|e| CallError::new(e.to_string()).kind("TransportError"))?;
            let value: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
            let attributes = value.pointer("/data/attributes").cloned().unwrap_or(Value::Null);
            if answer.status != 200 {
                if let Some(error) = attributes.get("error").filter(|e| !e.is_null()) {
                    let message = error
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("remote evaluator failed");
                    let kind =
                        error.get("type").and_then(Value::as_str).unwrap_or("RemoteEvaluatorError");
                    let mut err = CallError::new(message).kind(kind);
                    err.remote = Some(Box::new(crate::evaluators::RemoteFailure {
                        status: attributes
                            .get("status")
                            .and_then(Value::as_str)
                            .unwrap_or("ERROR")
                            .to_owned(),
                        backend_error: error.clone(),
                    }));
                    return Err(err);
                }
                return Err(
                    CallError::new(crate::api::error_detail(answer.text())).kind("RuntimeError")
                );
            }
            let text = |key: &str| {
                attributes
                    .get(key)
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
            };
            let value = attributes.get("value").cloned().unwrap_or(Value::Null);
            let (reasoning, assessment) = (text("reasoning"), text("assessment"));
            if reasoning.is_none() && assessment.is_none() {
                return Ok(Evaluation::Value(value));
            }
            Ok(Evaluation::Result(EvaluatorResult {
                value,
                reasoning,
                assessment: assessment.map(|a| match a.as_str() {
                    "pass" => crate::Assessment::Pass,
                    "fail" => crate::Assessment::Fail,
                    _ => crate::Assessment::Other(a),
                }),
                ..Default::default()
            }))
        })
    }
}
