//! GS1 EPC codec for SGTIN-96 and SGTIN-198 (GS1 EPC Tag Data Standard).
