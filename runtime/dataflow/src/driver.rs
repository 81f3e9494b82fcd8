//! How time reaches an operator. These functions are the single definition of the order in
//! which timers, watermarks and end-of-input are delivered; the engine's task loop and the test
//! harness both call them, so tests exercise exactly what runs.

use crate::collector::Collector;
use crate::context::OperatorContext;
use crate::operator::Operator;
use crate::timers::TimeDomain;
use freshet_core::{Result, WATERMARK_MAX};

/// Advances event time to `watermark`: fires every due event-time timer in time order, then
/// calls [`Operator::on_watermark`]. A watermark that does not advance is ignored.
pub fn advance_watermark(
    op: &mut dyn Operator,
    ctx: &mut OperatorContext,
    watermark: i64,
    out: &mut Collector,
) -> Result<()> {
    if watermark <= ctx.current_watermark() {
        return Ok(());
    }
    ctx.set_watermark(watermark);
    while let Some(timer) = ctx.pop_due_timer(TimeDomain::EventTime, watermark)? {
        op.on_timer(timer, ctx, out)?;
    }
    op.on_watermark(watermark, ctx, out)
}

/// Fires every processing-time timer due at `now_ms`, in time order.
pub fn advance_processing_time(
    op: &mut dyn Operator,
    ctx: &mut OperatorContext,
    now_ms: i64,
    out: &mut Collector,
) -> Result<()> {
    while let Some(timer) = ctx.pop_due_timer(TimeDomain::ProcessingTime, now_ms)? {
        op.on_timer(timer, ctx, out)?;
    }
    Ok(())
}

/// Ends the input: the final watermark fires every event-time timer, every remaining
/// processing-time timer fires (a bounded job ends without waiting for the wall clock), then
/// [`Operator::end_of_input`].
pub fn finish_input(op: &mut dyn Operator, ctx: &mut OperatorContext, out: &mut Collector) -> Result<()> {
    advance_watermark(op, ctx, WATERMARK_MAX, out)?;
    advance_processing_time(op, ctx, i64::MAX, out)?;
    op.end_of_input(ctx, out)
}
