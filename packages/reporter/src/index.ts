// @nightshift/reporter: report a Node training job's events to a Nightshift service.
export { isCudaOom, Reporter, type ReporterOptions, type SpooledEvent, sign, stackTail } from './reporter.ts';
