"""Export files written as they stream: records as cells, then CSV or XLSX bytes."""
