//! Tiled inference with [`CollapsedSesr`](crate::CollapsedSesr) over Y planes.
