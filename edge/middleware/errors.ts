// The error rendering lives in shared/ (the runner rpc uses it too); edge code keeps importing it from here.
export { notFound, onError, renderError, toAppError } from '../../shared/http-errors.ts';
